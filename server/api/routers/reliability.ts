import { ReliabilityPutInput, ReliabilitySeriesInput } from "../../schemas/reliability";
import { connectorSeries } from "../../services/reliabilitySeries";
import { connectorReliability, setForcedOpen } from "../../services/resilience";
import { adminProcedure, auditProcedure, router } from "../trpc";

/**
 * The reliability page (SPEC §4.7): each connector's breaker state, calls in flight against its
 * cap, latency and error rate against its SLO; an admin forces a breaker open (isolates the
 * connector) or closes it, with a reason. Always the viewer's tenant.
 */
export const reliabilityRouter = router({
  connectors: auditProcedure.query(({ ctx }) => connectorReliability({ db: ctx.db, clock: ctx.clock }, ctx.viewer)),
  /** latency percentiles and error rate per connector over the last hours, bucketed for the charts */
  series: auditProcedure
    .input(ReliabilitySeriesInput)
    .query(({ ctx, input }) => connectorSeries({ db: ctx.db, clock: ctx.clock }, ctx.viewer, input)),
  setForcedOpen: adminProcedure
    .input(ReliabilityPutInput)
    .mutation(({ ctx, input }) => setForcedOpen({ db: ctx.db, clock: ctx.clock }, ctx.viewer, input)),
});
