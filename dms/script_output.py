"""The request body of an Automation script call and the outputs a script reports back.

Request: WS_Methods_v1/ExecuteAutomationScript.md (``script`` with ``Parameters`` of
DMAAutomationScriptParameter: ``ParameterId``, ``Name``, ``Value``; ``scriptOptions.WaitForScript``).

Outputs: WS_Methods_v1/ExecuteAutomationScriptWithOutput.md says the result is "an integer [the instance id]
and an array of DMAAutomationOutputValue objects, each consisting of the key of the output item and its
value". The docs have no page for DMAAutomationOutputValue, so the JSON names are not documented: this reads
any list of objects with a key and a value (``Key``/``Value``, any case), wherever it sits in the answer.
Not verified on a real DMA.
"""

from __future__ import annotations

from typing import Any

from dms.script_contract import PARAMETER_IDS


def script_body(name: str, folder: str, parameters: dict[str, str], *, wait: bool) -> dict[str, Any]:
    script = {
        "Name": name,
        "Folder": folder,
        "Parameters": [
            {"ParameterId": PARAMETER_IDS.get(key, index + 1), "Name": key, "Value": str(value)}
            for index, (key, value) in enumerate(parameters.items())
        ],
    }
    return {"script": script, "scriptOptions": {"WaitForScript": wait}}


def _pair(item: object) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    lowered = {str(key).lower(): value for key, value in item.items()}
    key, value = lowered.get("key"), lowered.get("value")
    if not isinstance(key, str) or not isinstance(value, str | int | float | bool | None):
        return None
    return key, "" if value is None else str(value)


def script_outputs(data: object) -> dict[str, str]:
    """The key/value outputs in an ``ExecuteAutomationScriptWithOutput`` answer; ``ValueError`` if none."""
    candidates: list[object] = [data]
    if isinstance(data, dict):
        candidates += list(data.values())
    for candidate in candidates:
        if isinstance(candidate, list) and candidate:
            pairs = [_pair(item) for item in candidate]
            if all(pair is not None for pair in pairs):
                return dict(pair for pair in pairs if pair is not None)
    if isinstance(data, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
        return {}  # only an instance id: the script reported nothing
    raise ValueError("the answer holds no script outputs (key/value pairs)")
