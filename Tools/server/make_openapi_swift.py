#!/usr/bin/env python3
"""Writes Sources/PairRMServer/OpenAPIDocument.swift from Formats/openapi.json, the checked-in
API document that `pairrm serve` returns at GET /openapi.json (ScoringServerTests check that the
two are identical). Run after editing the JSON: python3 Tools/server/make_openapi_swift.py"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
source = os.path.join(ROOT, "Formats", "openapi.json")
with open(source, encoding="utf-8") as handle:
    text = handle.read()
json.loads(text)  # refuse to embed a document that does not parse
with open(os.path.join(ROOT, "Sources", "PairRMServer", "OpenAPIDocument.swift"), "w", encoding="utf-8") as out:
    out.write("// Generated from Formats/openapi.json by Tools/server/make_openapi_swift.py; do not edit.\n"
              "extension ScoringServer {\n    static let openAPIDocument = #\"\"\"\n" + text + "\n\"\"\"#\n}\n")
