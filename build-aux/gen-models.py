#!/usr/bin/env python3
"""Generate the model metadata from the reference.

Usage: build-aux/gen-models.py REFERENCE_DIR > lua/venueless/models/meta.lua

Reads models.json (Django's Model._meta of the real server) and schema.sql
(the live catalog after migrate, for each table's column order) and writes
one Lua table: every model with its table, fields in Django's order (type,
nullability, choices, default, foreign key), many-to-many fields, reverse
relations, and each table's columns in catalog order, plus the
auto-created many-to-many through tables. Run it when the reference
changes; the output is committed.
"""
import json
import re
import sys

# Callable defaults: the ones whose value is the same every call become
# that value; the others are named generators the model layer implements.
GENERATORS = {
    "uuid.uuid4": "uuid4",
    "django.utils.timezone.now": "now",
    "venueless.core.models.bbb.random_key": "bbb_random_key",
    "venueless.core.models.room.generate_short_token": "short_token",
    "venueless.core.models.auth.generate_short_token": "short_token",
}

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for",
            "function", "goto", "if", "in", "local", "nil", "not", "or",
            "repeat", "return", "then", "true", "until", "while"}


def lua(v, ind=""):
    """A Lua constructor for a JSON value (objects with sorted keys)."""
    if v is None:
        return "json.null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    nxt = ind + "  "
    if isinstance(v, list):
        if not v:
            return "json.array({})"
        if all(not isinstance(x, (list, dict)) for x in v):
            return "json.array({ " + ", ".join(lua(x) for x in v) + " })"
        return "json.array({\n" + "".join(
            nxt + lua(x, nxt) + ",\n" for x in v) + ind + "})"
    if not v:
        return "json.object({})"
    out = []
    for k in v:
        key = k if IDENT.match(k) and k not in KEYWORDS else "[" + json.dumps(k) + "]"
        out.append(nxt + key + " = " + lua(v[k], nxt) + ",\n")
    return "json.object({\n" + "".join(out) + ind + "})"


def plain(v, ind=""):
    """A Lua constructor for our own metadata (no json metatables)."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    nxt = ind + "  "
    if isinstance(v, list):
        if all(not isinstance(x, (list, dict)) for x in v):
            return "{ " + ", ".join(plain(x) for x in v) + " }" if v else "{}"
        return "{\n" + "".join(nxt + plain(x, nxt) + ",\n" for x in v) + ind + "}"
    items = [(k, x) for k, x in v.items() if x is not None]
    if all(not isinstance(x, (list, dict)) and
           not (isinstance(x, Raw) and "\n" in x.text) for _, x in items):
        return "{ " + ", ".join(k + " = " + (x.text if isinstance(x, Raw) else plain(x))
                                for k, x in items) + " }"
    out = []
    for k, x in items:
        if isinstance(x, Raw):
            out.append(nxt + k + " = " + x.text + ",\n")
        else:
            out.append(nxt + k + " = " + plain(x, nxt) + ",\n")
    return "{\n" + "".join(out) + ind + "}"


class Raw:
    def __init__(self, text):
        self.text = text


def default_of(f):
    if not f.get("has_default"):
        return None
    d = f["default"]
    if isinstance(d, str) and d.startswith("callable:"):
        name = d[len("callable:"):]
        if f.get("default_deterministic") and "default_value" in f:
            return {"value": Raw(lua(f["default_value"], "        "))}
        if name not in GENERATORS:
            sys.exit("gen-models: no generator for callable default " + name)
        return {"generator": GENERATORS[name]}
    return {"value": Raw(lua(d, "      "))}


def field_of(f):
    out = {
        "name": f["name"], "attname": f["attname"], "column": f["column"],
        "type": f["type"], "db_type": f["db_type"], "null": f["null"],
        "primary_key": f["primary_key"] or None, "unique": f["unique"] or None,
        "max_length": f.get("max_length") if f["type"] != "UUIDField" else None,
        "choices": [c[0] if isinstance(c, list) else c for c in f["choices"]]
        if f.get("choices") else None,
        "default": default_of(f),
        "base_type": f["base_field"]["db_type"] if f.get("base_field") else None,
    }
    if f.get("target"):
        out["fk"] = {
            "target": f["target"], "target_column": f["target_column"],
            "on_delete": f["on_delete"], "related_name": f["related_name"],
            "related_query_name": f.get("related_query_name"),
            "one_to_one": f["type"] == "OneToOneField" or None,
        }
    return out


def m2m_of(m):
    return {
        "name": m["name"], "target": m["target"], "through": m["through_table"],
        "source_column": m["source_column"], "target_column": m["target_column"],
        "related_name": m["related_name"], "auto_created": m["through_auto_created"],
    }


def reverse_of(r):
    return {
        "accessor": r["accessor"], "kind": r["kind"], "model": r["related_model"],
        "field": r["field"], "column": r.get("column"), "on_delete": r.get("on_delete"),
        "query_name": r.get("related_query_name"), "multiple": r.get("multiple"),
        "through": r.get("through_table"),
    }


def catalog(schema):
    """Each table's columns in catalog order, from CREATE TABLE statements."""
    tables = {}
    for m in re.finditer(r"CREATE TABLE public\.(\w+) \((.*?)\n\);", schema, re.S):
        cols = []
        for line in m.group(2).split("\n"):
            line = line.strip()
            if not line or line.startswith("CONSTRAINT"):
                continue
            cols.append(line.split()[0].strip('"'))
        tables[m.group(1)] = cols
    return tables


def main():
    ref = sys.argv[1]
    meta = json.load(open(ref + "/models.json"))
    tables = catalog(open(ref + "/schema.sql").read())
    models = []
    for md in meta["models"]:
        models.append({
            "label": md["label"], "app": md["app_label"], "name": md["name"],
            "table": md["db_table"], "pk": md["pk"],
            "versioned": md["versioned"] or None,
            "ordering": md["ordering"] or None,
            "unique_together": md["unique_together"] or None,
            "fields": [field_of(f) for f in md["fields"]],
            "m2m": [m2m_of(m) for m in md["many_to_many"]] or None,
            "reverse": [reverse_of(r) for r in md["reverse_relations"]] or None,
            "columns": tables[md["db_table"]],
        })
    through = []
    for t in meta["auto_created_through_tables"]:
        through.append({"table": t["db_table"], "model": t["model"],
                        "columns": tables[t["db_table"]]})
    print("-- The model metadata of the real venueless server (Django 4.2):")
    print("-- every model, its fields in Django's order, relations, and each")
    print("-- table's columns in catalog order.")
    print("-- Generated by build-aux/gen-models.py from ../shared/reference")
    print("-- (models.json, schema.sql); do not edit.")
    print('local json = require "venueless.json"')
    print("return " + plain({"models": models, "through": through}))


main()
