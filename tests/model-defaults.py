#!/usr/bin/env python3
"""Compare a world's rows with the real server's model defaults.

usage: model-defaults.py MODELS_JSON WORLD GIVEN_JSON

Reads every row of WORLD in the six tables import_config and clone_world
write (psql, with the PG* variables of tests/lib.sh) and checks each
column the operation does not take from its input (GIVEN_JSON: {table:
[columns]}) against the field in models.json (the reference's dump of
Django's models):
- a literal default: that value; a callable one with a deterministic
  default_value: that value; any other callable (uuid4): not NULL;
- no default: NOT NULL columns must be filled (ids, foreign keys, keys);
  a nullable FileField stores '' (Django saves an empty FieldFile, never
  None); any other nullable column NULL;
- `version` of a versioned model: 2 (a new object is saved once).
Every table must have rows, so a check cannot pass on nothing. Prints
each mismatch; exit 1 if there is one.
"""
import json
import subprocess
import sys

TABLES = {
    "core_world": "select json_agg(x) from core_world x where id = :'w'",
    "core_room": "select json_agg(x) from core_room x where world_id = :'w'",
    "core_channel": "select json_agg(x) from core_channel x where world_id = :'w'",
    "core_exhibitor": "select json_agg(x) from core_exhibitor x where world_id = :'w'",
    "core_exhibitorlink": "select json_agg(l) from core_exhibitorlink l"
                          " join core_exhibitor e on e.id = l.exhibitor_id where e.world_id = :'w'",
    "core_exhibitorsocialmedialink": "select json_agg(l) from core_exhibitorsocialmedialink l"
                                     " join core_exhibitor e on e.id = l.exhibitor_id"
                                     " where e.world_id = :'w'",
}

FILLED = object()   # expectation: any value but NULL


def rows(world, sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-v", "w=" + world],
                         input=sql + ";\n", capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else None


def expected(model, field):
    if field["column"] == "version" and model["versioned"]:
        return 2
    if field["has_default"]:
        d = field["default"]
        if isinstance(d, str) and d.startswith("callable:"):
            return field["default_value"] if field.get("default_deterministic") else FILLED
        return d
    if not field["null"]:
        return FILLED
    if field["class"] == "django.db.models.fields.files.FileField":
        return ""
    return None


def main():
    models = {m["db_table"]: m for m in json.load(open(sys.argv[1]))["models"]}
    world, given = sys.argv[2], json.loads(sys.argv[3])
    bad = []
    for table, sql in TABLES.items():
        got = rows(world, sql)
        if not got:
            bad.append("%s: no rows for world %s" % (table, world))
            continue
        model = models[table]
        skip = set(given.get(table, []))
        for i, row in enumerate(got):
            for f in model["fields"]:
                col = f["column"]
                if col in skip:
                    continue
                want, have = expected(model, f), row[col]
                if want is FILLED:
                    ok = have is not None
                else:
                    ok = have == want and type(have) is type(want)
                if not ok:
                    bad.append("%s.%s (row %d of %d): expected %s, got %s" % (
                        table, col, i, len(got), "a value" if want is FILLED else json.dumps(want),
                        json.dumps(have)))
    for line in bad[:40]:
        print(line)
    sys.exit(1 if bad else 0)


main()
