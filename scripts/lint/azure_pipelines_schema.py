"""Writes the Azure Pipelines YAML schema (check-jsonschema's vendored copy) extended with the
KpushDeploy task, generated from its task.json the way Microsoft generates the entries of its
own tasks, so pipelines that use the task can be validated (the vendored schema knows only
Microsoft's tasks and rejects any other).

    python azure_pipelines_schema.py TASK_JSON OUT_SCHEMA
"""

import json
import pathlib
import sys

import check_jsonschema

TYPES = {"boolean": {"type": "boolean"}, "multiLine": {"type": "string"}}


def task_entry(task):
    props, required = {}, []
    for i in task["inputs"]:
        if i["type"] == "pickList":
            schema = {"enum": list(i["options"])}
        else:
            schema = dict(TYPES.get(i["type"], {"type": "string"}))
        schema["description"] = i["label"]
        for name in [i["name"], *i.get("aliases", [])]:
            props[name] = schema
        if i.get("required") and "defaultValue" not in i:
            required.append(i.get("aliases", [i["name"]])[0])
    version = task["version"]["Major"]
    return {
        "properties": {
            "task": {"description": task["friendlyName"], "pattern": f"^{task['name']}@{version}$"},
            "inputs": {"properties": props, "additionalProperties": False, "required": required},
        },
        "firstProperty": ["task"],
        "required": ["task", "inputs"] if required else ["task"],
    }


def main(task_json, out):
    vendor = pathlib.Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "azure-pipelines.json"
    schema = json.loads(vendor.read_text())
    task = json.loads(pathlib.Path(task_json).read_text(encoding="utf-8-sig"))
    definition = schema["definitions"]["task"]
    definition["anyOf"].append(task_entry(task))
    definition["properties"]["task"]["anyOf"].append({"enum": [f"{task['name']}@{task['version']['Major']}"]})
    pathlib.Path(out).write_text(json.dumps(schema))


if __name__ == "__main__":
    main(*sys.argv[1:])
