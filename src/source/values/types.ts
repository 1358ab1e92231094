/**
 * What json.c's json_categorize_type needs to know about a type, read from pg_type (and pg_attribute,
 * pg_cast) or, for built-in types, known here without a query.
 */
export type TypeInfo =
  /** A built-in base, range or multirange type: rendered by its OID (scalars.ts). */
  | { kind: 'scalar' }
  /** A user type json.c has no category for (enum, range, citext...): its text as a JSON string. */
  | { kind: 'text' }
  /** A user type with a cast to json through a function walhook cannot run: its text, quoted. */
  | { kind: 'cast' }
  /** A user type whose cast to json is hstore's hstore_to_json. */
  | { kind: 'hstore' }
  /** A true array (array_subscript_handler); `delimiter` is the element type's typdelim. */
  | { kind: 'array'; element: number; delimiter: string }
  /** int2vector and oidvector: arrays to json.c, printed without braces. */
  | { kind: 'vector'; element: number }
  | { kind: 'domain'; base: number }
  /** Attributes in attnum order, dropped ones left out, as record_out prints them. */
  | { kind: 'composite'; fields: readonly { name: string; type: number }[] };

/** The types a type's rendering depends on. */
export function dependencies(info: TypeInfo): number[] {
  switch (info.kind) {
    case 'array':
    case 'vector':
      return [info.element];
    case 'domain':
      return [info.base];
    case 'composite':
      return info.fields.map((field) => field.type);
    default:
      return [];
  }
}

/**
 * Every built-in base, range and multirange type, each followed by its array type (0 for none), as
 * pg_type lists them in Postgres 14 to 18 (the same OIDs in each). Built-in composites (the system
 * catalogs' row types) and the types initdb creates (information_schema's domains) are left to the
 * catalog, which reads them like user types.
 */
// biome-ignore format: pairs read better than one number per line.
const SCALARS_AND_ARRAYS = [
  16, 1000, 17, 1001, 18, 1002, 19, 1003, 20, 1016, 21, 1005, 23, 1007, 24, 1008, 25, 1009, 26, 1028,
  27, 1010, 28, 1011, 29, 1012, 114, 199, 142, 143, 194, 0, 600, 1017, 601, 1018, 602, 1019, 603, 1020,
  604, 1027, 628, 629, 650, 651, 700, 1021, 701, 1022, 718, 719, 774, 775, 790, 791, 829, 1040,
  869, 1041, 1033, 1034, 1042, 1014, 1043, 1015, 1082, 1182, 1083, 1183, 1114, 1115, 1184, 1185,
  1186, 1187, 1266, 1270, 1560, 1561, 1562, 1563, 1700, 1231, 1790, 2201, 2202, 2207, 2203, 2208,
  2204, 2209, 2205, 2210, 2206, 2211, 2950, 2951, 2970, 2949, 3220, 3221, 3361, 0, 3402, 0, 3614, 3643,
  3615, 3645, 3642, 3644, 3734, 3735, 3769, 3770, 3802, 3807, 3904, 3905, 3906, 3907, 3908, 3909,
  3910, 3911, 3912, 3913, 3926, 3927, 4072, 4073, 4089, 4090, 4096, 4097, 4191, 4192, 4451, 6150,
  4532, 6151, 4533, 6152, 4534, 6153, 4535, 6155, 4536, 6157, 4600, 0, 4601, 0, 5017, 0, 5038, 5039,
  5069, 271,
];

const BOX = 603;
const INT2 = 21;
const OID = 26;
const INT2VECTOR = 22;
const OIDVECTOR = 30;

const BUILTINS = new Map<number, TypeInfo>();
const SCALAR: TypeInfo = { kind: 'scalar' };
for (let i = 0; i < SCALARS_AND_ARRAYS.length; i += 2) {
  const element = SCALARS_AND_ARRAYS[i] as number;
  const array = SCALARS_AND_ARRAYS[i + 1] as number;
  BUILTINS.set(element, SCALAR);
  if (array !== 0) BUILTINS.set(array, { kind: 'array', element, delimiter: element === BOX ? ';' : ',' });
}
BUILTINS.set(INT2VECTOR, { kind: 'vector', element: INT2 });
BUILTINS.set(OIDVECTOR, { kind: 'vector', element: OID });
BUILTINS.set(1006, { kind: 'array', element: INT2VECTOR, delimiter: ',' });
BUILTINS.set(1013, { kind: 'array', element: OIDVECTOR, delimiter: ',' });

export function builtinType(oid: number): TypeInfo | undefined {
  return BUILTINS.get(oid);
}
