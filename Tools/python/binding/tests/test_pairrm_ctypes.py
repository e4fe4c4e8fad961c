#!/usr/bin/env python3
"""Tests of the ctypes binding (package ``pairrm``, Tools/python/binding/pairrm) against the tiny
f32 model and LLM-Blender's golden values. Standard library only.

usage: PYTHONPATH=Tools/python/binding python3 Tools/python/binding/tests/test_pairrm_ctypes.py \
           --lib path/to/libpairrm.so --model tiny-f32.prm [--golden blender-tiny.json]
The caller chooses which ``pairrm`` is tested: PYTHONPATH=Tools/python/binding (the source tree),
PYTHONPATH=PREFIX/share/pairrm/python (Tools/install.sh), or none after ``pip install``.
Prints "N passed, M failed"; exits 1 on failure.
"""
import argparse
import json
import os
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

try:
    import pairrm
except ModuleNotFoundError as error:
    if error.name != "pairrm":
        raise
    sys.exit("test_pairrm_ctypes.py: cannot import pairrm: set PYTHONPATH=Tools/python/binding "
             "(or PREFIX/share/pairrm/python), or pip install Tools/python/binding")

# The repository root (Tools/python/binding/tests -> four levels up): the fixtures live there.
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))

ARGS = None
TOL = 1e-4


def short(case):
    return all(len(case.get(k) or "") <= 1000 for k in ("prompt", "a", "b"))


class CTypesTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pairrm.load_library(ARGS.lib)
        cls.model = pairrm.Model(ARGS.model)
        cls.golden = json.load(open(ARGS.golden, encoding="utf-8"))

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_version_and_info(self):
        self.assertRegex(pairrm.version(), r"^\d+\.\d+\.\d+$")
        info = self.model.info
        self.assertEqual((info["hidden_size"], info["num_layers"], info["vocab_size"]), (32, 2, 1005))
        self.assertEqual(self.model.metadata("general.weights"), "f32")
        with self.assertRaises(pairrm.PairRMError) as e:
            self.model.metadata("no.such.key")
        self.assertEqual(e.exception.name, "PAIRRM_ERR_NOT_FOUND")

    def test_compare_golden(self):
        for k, c in enumerate(self.golden["compare"]):
            if not short(c):
                continue  # ~1600-token inputs: covered by the C golden run, slow in a debug build
            for mode, key in (("[A,B]", "logit_ab"), ("[B,A]", "logit_ba"), ("[A,B]+[B,A]", "logit_both")):
                r = self.model.compare(c["prompt"], c["a"], c["b"], instruction=c.get("instruction", ""), mode=mode)
                self.assertAlmostEqual(r.logit, c[key], delta=TOL, msg="compare[%d] %s" % (k, mode))
                want = "tie" if c[key] == 0 else (("b" if c[key] > 0 else "a") if mode == "[B,A]" else ("a" if c[key] > 0 else "b"))
                self.assertEqual(r.verdict, want)

    def test_rank_golden(self):
        for k, c in enumerate(self.golden["rank"]):
            if not short(c) or any(len(x) > 1000 for x in c["candidates"]):
                continue
            model = self.model
            if "source_max_length" in c:
                model = pairrm.Model(ARGS.model, source_max_length=c["source_max_length"],
                                     candidate_max_length=c["candidate_max_length"])
            r = model.rank(c["prompt"], c["candidates"], instruction=c.get("instruction", ""))
            self.assertEqual(r.ranks, c["ranks"], "rank[%d]" % k)
            for got, want in zip(r.scores, c["scores"]):
                self.assertAlmostEqual(got, want, delta=TOL)
            self.assertIsNone(model.rank(c["prompt"], c["candidates"], strategy="merge-sort").scores)
            if model is not self.model:
                model.close()

    def test_best_worst_of_n_golden(self):
        for k, c in enumerate(self.golden["best_of_n"]):
            cands, ins = c["candidates"], c.get("instruction", "")
            for which, fn in (("best", self.model.best_of_n), ("worst", self.model.worst_of_n)):
                s = fn(c["prompt"], cands, instruction=ins, strategy="full")
                self.assertEqual(cands[s.index], c[which + "_full"])
                self.assertEqual([cands[i] for i in s.order], c[which + "_full_all"])
                for b in c[which + "_bubble"]:
                    s = fn(c["prompt"], cands, instruction=ins, start_order=b["start_order"])
                    self.assertEqual(cands[s.index], b["choice"], "%s_of_n[%d] %s" % (which, k, b["start_order"]))
                    self.assertEqual([cands[i] for i in s.order], b["all"])

    def test_conversations_golden(self):
        for c in self.golden["compare_conversations"]:
            self.assertAlmostEqual(self.model.compare_conversations(c["a"], c["b"]).logit, c["logit_both"], delta=TOL)
            self.assertAlmostEqual(self.model.compare_conversations(c["a"], c["b"], mode="[A,B]").logit, c["logit_ab"], delta=TOL)
        for c in self.golden["compare_conversations_errors"]:
            with self.assertRaises(pairrm.PairRMError) as e:
                self.model.compare_conversations(c["a"], c["b"])
            self.assertEqual(e.exception.name, "PAIRRM_ERR_INVALID_CONVERSATION")

    def test_tokenize(self):
        ids = self.model.tokenize("What did the boy do when he was a child?")
        c = self.golden["compare"][0]
        # ids_ab = [CLS] <|source|> prompt-ids [SEP] ...
        self.assertEqual(ids, c["ids_ab"][2:2 + len(ids)])
        self.assertEqual(self.model.tokenize(""), [])

    def test_threads(self):
        cases = [c for c in self.golden["compare"] if short(c)]
        expected = [self.model.compare(c["prompt"], c["a"], c["b"], c.get("instruction", "")).logit for c in cases]
        jobs = [i % len(cases) for i in range(4 * len(cases))]
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(lambda i: self.model.compare(cases[i]["prompt"], cases[i]["a"], cases[i]["b"],
                                                             cases[i].get("instruction", "")).logit, jobs))
        self.assertEqual(got, [expected[i] for i in jobs])

    def test_from_buffer(self):
        with open(ARGS.model, "rb") as f:
            data = f.read()
        with pairrm.Model(data=data) as m:
            c = self.golden["compare"][0]
            self.assertAlmostEqual(m.compare(c["prompt"], c["a"], c["b"]).logit, c["logit_both"], delta=TOL)

    def test_bad_input(self):
        def status(fn, *a, **k):
            with self.assertRaises(pairrm.PairRMError) as e:
                fn(*a, **k)
            self.assertTrue(str(e.exception))
            return e.exception.name
        self.assertEqual(status(self.model.compare, "p", "a\udc80", "b"), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(status(self.model.compare, "p", b"\xff", "b"), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(status(self.model.rank, "p", []), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(status(self.model.best_of_n, "p", ["a", "b"], start_order=[0, 0]), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(status(pairrm.Model, "/nonexistent.prm"), "PAIRRM_ERR_IO")
        self.assertEqual(status(pairrm.Model, data=b"\0" * 64), "PAIRRM_ERR_INVALID_MODEL")
        self.assertEqual(status(pairrm.Model, ARGS.model, threads=0), "PAIRRM_ERR_INVALID_ARGUMENT")
        with self.assertRaises(ValueError):
            self.model.compare("p", "a", "b", mode="sideways")
        m = pairrm.Model(ARGS.model)
        handle = m.handle
        m.close()
        with self.assertRaises(pairrm.PairRMError):
            m.compare("p", "a", "b")
        # the raw double free is detected by the library itself
        self.assertEqual(pairrm.load_library().pairrm_model_free(handle), 4)

    def test_load_by_name(self):
        """Model() takes a checkpoint folder or a cached hub id (pairrm_model_load); the library
        converts a checkpoint once into $PAIRRM_CACHE and never uses the network."""
        import tempfile
        checkpoint = os.path.join(ROOT, "Tests/Fixtures/checkpoints/tiny-pairrm-hf")
        saved = {k: os.environ.get(k) for k in ("PAIRRM_CACHE", "HF_HUB_CACHE", "PAIRRM_MODEL", "TRANSFORMERS_CACHE")}
        with tempfile.TemporaryDirectory() as tmp:
            try:
                os.environ["PAIRRM_CACHE"] = os.path.join(tmp, "pairrm")
                os.environ["HF_HUB_CACHE"] = os.path.join(tmp, "hub")
                os.environ.pop("TRANSFORMERS_CACHE", None)
                os.environ.pop("PAIRRM_MODEL", None)
                c = self.golden["compare"][0]
                with pairrm.Model(checkpoint, recipe="f32") as m:
                    self.assertAlmostEqual(m.compare(c["prompt"], c["a"], c["b"]).logit, c["logit_both"], delta=TOL)
                converted = [f for _, _, files in os.walk(os.path.join(tmp, "pairrm")) for f in files if f.endswith(".prm")]
                self.assertEqual(len(converted), 1)
                with pairrm.Model(checkpoint, recipe="f32"):
                    pass  # the cached file is reused
                with self.assertRaises(pairrm.PairRMError) as e:
                    pairrm.Model("org/never-fetched")
                self.assertEqual(e.exception.name, "PAIRRM_ERR_IO")
                self.assertIn("pairrm download org/never-fetched", str(e.exception))
                with self.assertRaises(pairrm.PairRMError) as e:
                    pairrm.Model(checkpoint, recipe="q7")
                self.assertEqual(e.exception.name, "PAIRRM_ERR_INVALID_ARGUMENT")
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    def test_reward_function(self):
        c = self.golden["rank"][3]
        scores = self.model.rewards(c["prompt"], c["candidates"])
        for got, want in zip(scores, c["scores"]):
            self.assertAlmostEqual(got, want, delta=TOL)
        r = self.model.reward("hello!", "hi!", "f**k off!")
        self.assertAlmostEqual(r, self.golden["compare"][2]["logit_both"], delta=TOL)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", default=os.environ.get("PAIRRM_LIBRARY"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--golden", default=os.path.join(ROOT, "Tests/Fixtures/parity/blender-tiny.json"))
    ARGS = parser.parse_args()
    print("testing pairrm from %s" % os.path.dirname(os.path.abspath(pairrm.__file__)), file=sys.stderr)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(CTypesTests)
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stderr).run(suite)
    bad = len(result.failures) + len(result.errors)
    print("python: %d passed, %d failed" % (result.testsRun - bad, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
