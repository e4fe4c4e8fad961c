#!/usr/bin/env python3
"""Runs the package tests (test_ranker, test_blender, test_trl, test_scale_out) with unittest and
prints "LABEL: N passed, M failed, S skipped" (+ each skip's reason). Exits 1 on failure.

usage: python Tools/python/binding/tests/run_tests.py [--label NAME] [--model tiny-f32.prm] [-v]

Run it from outside the source tree so that the installed ``pairrm`` is imported (or set
PYTHONPATH=Tools/python/binding and PAIRRM_LIBRARY for the source tree). Without --model (or
$PAIRRM_TEST_MODEL) the tiny checkpoint is converted once into a temporary cache.
"""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ["test_ranker", "test_blender", "test_trl", "test_scale_out"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="python package")
    parser.add_argument("--model", help="tiny f32 .prm (default: convert the tiny checkpoint)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("modules", nargs="*", default=MODULES)
    args = parser.parse_args()
    if args.model:
        os.environ["PAIRRM_TEST_MODEL"] = os.path.abspath(args.model)
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import pairrm
    print("%s: pairrm %s from %s, libpairrm %s" % (args.label, pairrm.__version__, os.path.dirname(pairrm.__file__),
                                                  pairrm.library_path()), file=sys.stderr)
    suite = unittest.defaultTestLoader.loadTestsFromNames(args.modules)
    result = unittest.TextTestRunner(verbosity=2 if args.verbose else 1, stream=sys.stderr).run(suite)
    bad = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    for test, reason in result.skipped:
        print("  skipped %s: %s" % (test.id(), reason))
    print("%s: %d passed, %d failed, %d skipped" % (args.label, result.testsRun - bad - skipped, bad, skipped))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
