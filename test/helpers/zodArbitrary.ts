import fc from "fast-check";
import { type ZodType, z } from "zod";

/**
 * fast-check arbitraries derived from the app's zod schemas (via their JSON Schema), so the fuzz
 * test generates inputs that mostly pass validation and reach the services — then mutates them
 * (wrong types, nulls, unicode, extra keys) to probe the edges.
 */
type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  pattern?: string;
};

const anyJson = fc.jsonValue({ maxDepth: 3 });

const hostileString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("", " ", "\u0000", "null", "undefined", "__proto__", "constructor", "'; DROP TABLE x;--", "𝕏💥\u202e", "a".repeat(5000)),
);

export function arbitraryFromJsonSchema(s: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return anyJson;
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const union = s.anyOf ?? s.oneOf;
  if (union?.length) return fc.oneof(...union.map((x) => arbitraryFromJsonSchema(x, depth + 1)));
  if (s.allOf?.length) return arbitraryFromJsonSchema(s.allOf[0] as JsonSchema, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "string": {
      if (s.format === "date-time")
        return fc.date({ noInvalidDate: true, min: new Date(2020, 0, 1), max: new Date(2030, 0, 1) }).map((d) => d.toISOString());
      const min = s.minLength ?? 0;
      const max = Math.max(min, Math.min(s.maxLength ?? 40, 60));
      return fc.string({ minLength: min, maxLength: max });
    }
    case "integer":
    case "number": {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1000);
      return type === "integer"
        ? fc.integer({ min: Math.max(min, -1e9), max: Math.min(max, 1e9) })
        : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const item = s.items ? arbitraryFromJsonSchema(s.items, depth + 1) : anyJson;
      return fc.array(item, { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 5, 5) });
    }
    case "object": {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) record[k] = arbitraryFromJsonSchema(v, depth + 1);
      const fixed = fc.record(record, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
      if (Object.keys(props).length === 0 && s.additionalProperties && s.additionalProperties !== true) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), arbitraryFromJsonSchema(s.additionalProperties, depth + 1), {
          maxKeys: 4,
        });
      }
      return fixed;
    }
    default:
      return anyJson;
  }
}

export function jsonSchemaOf(schema: ZodType): JsonSchema {
  try {
    return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  } catch {
    return {};
  }
}

/** Mutate a (mostly valid) value: drop a key, swap a value for a hostile one, add a stray key. */
export function mutated(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const hostileValue = fc.oneof(hostileString, fc.constant(null), fc.integer(), fc.double(), fc.boolean(), fc.jsonValue({ maxDepth: 2 }));
  return fc.tuple(base, fc.nat(), hostileValue, fc.constantFrom("drop", "swap", "add", "whole")).map(([v, pick, h, how]) => {
    if (how === "whole" || v === null || typeof v !== "object" || Array.isArray(v)) return h;
    const keys = Object.keys(v);
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const k = keys[pick % Math.max(1, keys.length)];
    if (how === "drop" && k) delete out[k];
    else if (how === "swap" && k) out[k] = h;
    else out[`x_${pick % 7}`] = h;
    return out;
  });
}

/** Valid-shaped values, mutated ones and arbitrary JSON, in one arbitrary. */
export function fuzzInput(schema: ZodType | undefined): fc.Arbitrary<unknown> {
  if (!schema) return fc.oneof(fc.constant(undefined), anyJson);
  const valid = arbitraryFromJsonSchema(jsonSchemaOf(schema));
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: mutated(valid) }, { weight: 1, arbitrary: anyJson });
}

export function nested(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

export function nestedText(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

export function manyKeys(n: number): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`k${i}`] = i;
  return o;
}

export const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** Cursors a client could craft: numbers Prisma cannot bind, dates that do not parse, junk. */
export const HOSTILE_CURSORS = [
  b64({ s: 1e20 }),
  b64({ s: -1 }),
  b64({ s: 1.5 }),
  b64({ s: "1" }),
  b64({ t: "not a date", i: "x" }),
  b64({ t: "2026-01-01T00:00:00.000Z", i: 5 }),
  b64({ c: 1e20, i: "x" }),
  b64({ c: -1e300, i: "x" }),
  Buffer.from('{"__proto__":{"s":1},"s":1e20}').toString("base64url"),
  b64([1, 2]),
  b64(null),
  "%%%",
  "e30",
  "x".repeat(600),
];
