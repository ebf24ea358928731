"""Validate Starknet JSON-RPC v0.10.2 results, errors and params against the vendored OpenRPC spec.

The spec files live next to this module (``specs/starknet/v0_10_2``) and are read unchanged from disk.
Three quirks of the upstream documents are worked around in memory, so that validation is meaningful:

* cross-file ``$ref``s point at ``./api/starknet_api_openrpc.json`` (a path relative to the spec repository
  root); the read API document is registered under that URI as well as under its own.
* ``TXN_WITH_HASH`` and ``BLOCK_BODY_WITH_TXS.items`` wrap their schema in a stray ``{"schema": ...}`` object
  (an unknown keyword, so as published they would accept anything); such single-key wrappers are unwrapped.
* ``CONTRACT_ERROR.data.required`` is the string ``"revert_error"`` instead of a list; strings become lists.
* ``oneOf`` is checked as ``anyOf``: several of the spec's unions are not mutually exclusive (a full block also
  satisfies the pre-confirmed block schema, which has no ``additionalProperties: false``), so a strict
  ``oneOf`` would reject valid results. Every branch is still fully checked.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).resolve().parent / "specs" / "starknet" / "v0_10_2"
SPEC_VERSION = "0.10.2"
BASE_URI = "https://starknet-spec.invalid/v0_10_2/"  # http-like, so "./api/..." refs resolve
FILES = ("starknet_api_openrpc.json", "starknet_write_api.json")

# Codes every JSON-RPC server may return whatever the method (JSON-RPC 2.0 section 5.1).
JSONRPC_ERRORS = {
    -32700: "Parse error",
    -32600: "Invalid Request",
    -32601: "Method not found",
    -32602: "Invalid params",
    -32603: "Internal error",
}


def _normalise(node: Any) -> Any:
    """Apply the in-memory workarounds listed in the module docstring."""
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"schema"} and isinstance(node["schema"], dict):
        return _normalise(node["schema"])
    out = {}
    for key, value in node.items():
        if key == "required" and isinstance(value, str):
            out[key] = [value]
        elif key == "oneOf":
            out["anyOf"] = _normalise(value)
        else:
            out[key] = _normalise(value)
    return out


@cache
def documents() -> dict[str, dict]:
    """The raw (unmodified) OpenRPC documents by file name."""
    return {name: json.loads((SPEC_DIR / name).read_text()) for name in FILES}


@cache
def _spec() -> tuple[Registry, dict[str, tuple[str, int, dict]]]:
    registry: Registry = Registry()
    methods: dict[str, tuple[str, int, dict]] = {}
    for name, raw in documents().items():
        doc = _normalise(copy.deepcopy(raw))
        resource = DRAFT202012.create_resource(doc)
        registry = registry.with_resource(BASE_URI + name, resource)
        if name == "starknet_api_openrpc.json":
            registry = registry.with_resource(BASE_URI + "api/" + name, resource)
        for index, method in enumerate(doc["methods"]):
            methods[method["name"]] = (name, index, method)
    return registry.crawl(), methods


def method_names() -> list[str]:
    return sorted(_spec()[1])


def _validator(pointer_uri: str) -> Draft202012Validator:
    return _validator_cached(pointer_uri)


@cache
def _validator_cached(pointer_uri: str) -> Draft202012Validator:
    registry, _ = _spec()
    return Draft202012Validator({"$ref": pointer_uri}, registry=registry)


def _messages(validator: Draft202012Validator, instance: Any, where: str) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for error in errors:
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        detail = error.message if len(error.message) < 400 else error.message[:400] + "..."
        # For anyOf failures, name the best-matching branch's problems: far more useful than "is not valid".
        if error.context:
            best = min(error.context, key=lambda e: (len(list(e.absolute_path)) * -1, len(e.message)))
            sub_path = "/".join(str(p) for p in best.absolute_path) or "(root)"
            detail += f" [closest branch: {sub_path}: {best.message[:300]}]"
        out.append(f"{where} {path}: {detail}")
    return out


def _method(method: str) -> tuple[str, int, dict]:
    try:
        return _spec()[1][method]
    except KeyError:
        raise KeyError(f"{method} is not a method of the Starknet JSON-RPC spec {SPEC_VERSION}") from None


def validate_result(method: str, result: Any) -> list[str]:
    """Violations of ``method``'s declared result schema by ``result`` (empty list = valid)."""
    file, index, _ = _method(method)
    return _messages(_validator(f"{BASE_URI}{file}#/methods/{index}/result/schema"), result, f"{method} result")


def _error_definitions(method: str) -> dict[int, tuple[dict, str]]:
    """code -> (error definition, URI of the document it lives in) for the errors ``method`` declares."""
    file, index, _ = _method(method)
    raw_method = documents()[file]["methods"][index]
    registry, _ = _spec()
    out = {}
    for ref in raw_method.get("errors", []):
        target = ref["$ref"]
        uri = BASE_URI + file + target if target.startswith("#") else BASE_URI + target.removeprefix("./")
        resolved = registry.resolver().lookup(uri)
        document_uri = uri.split("#", 1)[0]
        out[resolved.contents["code"]] = (resolved.contents, document_uri + "#" + _pointer(uri))
    return out


def _pointer(uri: str) -> str:
    return uri.split("#", 1)[1]


def validate_error(method: str, error: Any) -> list[str]:
    """Violations by a JSON-RPC ``error`` object returned for ``method``: the code must be one the method declares
    (or a JSON-RPC 2.0 standard code), the message must be the spec's, and ``data`` must match its schema."""
    where = f"{method} error"
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("code"), int)
        or not isinstance(error.get("message"), str)
    ):
        return [f"{where}: not a JSON-RPC error object: {error!r}"]
    code = error["code"]
    if code in JSONRPC_ERRORS:
        return []
    definitions = _error_definitions(method)
    if code not in definitions:
        return [f"{where}: code {code} is not declared for {method} (declared: {sorted(definitions)})"]
    definition, definition_uri = definitions[code]
    problems = []
    if error["message"] != definition["message"]:
        problems.append(f"{where}: message {error['message']!r} != spec {definition['message']!r}")
    if "data" in definition:
        if "data" not in error:
            problems.append(f"{where}: code {code} requires data")
        elif definition["data"] == "string":  # the write API declares string data like this
            if not isinstance(error["data"], str):
                problems.append(f"{where}: data must be a string, got {error['data']!r}")
        else:
            problems += _messages(_validator(definition_uri + "/data"), error["data"], f"{where} data")
    elif "data" in error:
        problems.append(f"{where}: code {code} declares no data, got {error['data']!r}")
    return problems


def param_names(method: str) -> list[tuple[str, bool]]:
    """(name, required) of ``method``'s params in spec order."""
    _, _, spec = _method(method)
    return [(p["name"], bool(p.get("required", False))) for p in spec["params"]]


def params_by_name(method: str, params: Any) -> dict[str, Any]:
    """Normalise positional or named params to a dict; ValueError/TypeError when they do not fit the declaration."""
    declared = param_names(method)
    if params is None:
        params = {}
    if isinstance(params, list):
        if len(params) > len(declared):
            raise ValueError(f"{method} takes at most {len(declared)} params, got {len(params)}")
        params = {name: value for (name, _), value in zip(declared, params, strict=False)}
    if not isinstance(params, dict):
        raise TypeError("params must be an array or an object")
    unknown = set(params) - {name for name, _ in declared}
    if unknown:
        raise ValueError(f"unknown params for {method}: {sorted(unknown)}")
    missing = [name for name, required in declared if required and name not in params]
    if missing:
        raise ValueError(f"missing required params for {method}: {missing}")
    return params


def validate_params(method: str, params: Any) -> list[str]:
    """Violations of ``method``'s param declarations (positional or named params)."""
    try:
        named = params_by_name(method, params)
    except (ValueError, TypeError) as exc:
        return [str(exc)]
    file, index, spec = _method(method)
    problems = []
    for position, param in enumerate(spec["params"]):
        if param["name"] in named:
            validator = _validator(f"{BASE_URI}{file}#/methods/{index}/params/{position}/schema")
            problems += _messages(validator, named[param["name"]], f"{method} param {param['name']}")
    return problems
