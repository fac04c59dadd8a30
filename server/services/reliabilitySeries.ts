import type { Clock } from "../clock";
import type { Db } from "../db";
import { type SloTarget, sloTarget } from "../engine/slo";
import { type SeriesPoint, sloSeries } from "../engine/sloSeries";
import { callSamplesInRange } from "../repos/callSeries";
import type { Viewer } from "../repos/scope";
import { CONNECTOR_NAMES, type ConnectorName } from "../schemas/connectors";
import { flushCallSamples } from "./callSamples";
import { connectorResilienceSettings } from "./connectors";

/** Points per chart: enough to see a spike, few enough to read. */
const BUCKETS = 24;
/** Samples read per connector; beyond it the oldest buckets are left out and the answer says so. */
const SAMPLE_LIMIT = 20_000;

export interface ConnectorSeries {
  connector: ConnectorName;
  points: SeriesPoint[];
  /** more calls than SAMPLE_LIMIT in the range: the oldest points are partial */
  truncated: boolean;
  /** the connector's own target (its `slo` setting, else the default): the charts draw it */
  slo: SloTarget;
}

/** Each connector's latency and error rate over the last `hours` with its SLO target, for the viewer's tenant only. */
export async function connectorSeries(
  deps: { db: Db; clock: Clock },
  viewer: Viewer,
  input: { hours: number },
): Promise<{ from: Date; to: Date; bucketMs: number; connectors: ConnectorSeries[] }> {
  await flushCallSamples(deps.db, viewer.tenantId);
  const to = deps.clock.now();
  const bucketMs = Math.ceil((input.hours * 3_600_000) / BUCKETS);
  const from = new Date(to.getTime() - bucketMs * BUCKETS);
  const connectors = await Promise.all(
    CONNECTOR_NAMES.map(async (connector) => {
      const [rows, settings] = await Promise.all([
        callSamplesInRange(deps.db, viewer.tenantId, connector, from, to, SAMPLE_LIMIT),
        connectorResilienceSettings(deps.db, viewer.tenantId, connector),
      ]);
      return {
        connector,
        points: sloSeries(rows, from, bucketMs, BUCKETS),
        truncated: rows.length === SAMPLE_LIMIT,
        slo: sloTarget(settings.slo),
      };
    }),
  );
  return { from, to, bucketMs, connectors };
}
