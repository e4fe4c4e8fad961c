"""pairrm.Ranker against LLM-Blender's parity fixtures, the batched variants, thread safety,
bad input and packaging. unittest (runs under pytest too)."""
import os
import re
import subprocess
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

import pairrm
import _support as S


class RankerParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ranker = pairrm.Ranker(S.model_path(), max_workers=4)
        cls.golden = S.golden()

    @classmethod
    def tearDownClass(cls):
        cls.ranker.close()

    def test_compare(self):
        for k, c in enumerate(self.golden["compare"]):
            if not S.short(c):
                continue
            for mode, key in (("[A,B]", "logit_ab"), ("[B,A]", "logit_ba"), ("[A,B]+[B,A]", "logit_both")):
                r = self.ranker.compare(c["prompt"], c["a"], c["b"], instruction=c.get("instruction", ""), mode=mode)
                self.assertAlmostEqual(r.logit, c[key], delta=S.TOL, msg="compare[%d] %s" % (k, mode))

    def test_rank(self):
        for k, c in enumerate(self.golden["rank"]):
            ranker = self.ranker.with_lengths(c.get("source_max_length"), c.get("candidate_max_length"))
            r = ranker.rank(c["prompt"], c["candidates"], instruction=c.get("instruction", ""))
            self.assertEqual(r.ranks, c["ranks"], "rank[%d]" % k)
            for got, want in zip(r.scores, c["scores"]):
                self.assertAlmostEqual(got, want, delta=S.TOL)

    def test_rank_with_ref(self):
        for k, c in enumerate(self.golden["rank_with_ref"]):
            r = self.ranker.rank_with_ref(c["prompt"], c["candidates"], reference=c.get("reference"),
                                          ref_mode=c["ref_mode"], instruction=c.get("instruction", ""))
            self.assertEqual(r.ranks, c["ranks"], "rank_with_ref[%d]" % k)
            for got, want in zip(r.scores, c["scores"]):
                self.assertAlmostEqual(got, want, delta=S.TOL)

    def test_best_worst_of_n(self):
        for c in self.golden["best_of_n"]:
            cands, ins = c["candidates"], c.get("instruction", "")
            for which, fn in (("best", self.ranker.best_of_n), ("worst", self.ranker.worst_of_n)):
                self.assertEqual(cands[fn(c["prompt"], cands, instruction=ins, strategy="full").index], c[which + "_full"])
                for b in c[which + "_bubble"]:
                    s = fn(c["prompt"], cands, instruction=ins, start_order=b["start_order"])
                    self.assertEqual(cands[s.index], b["choice"])
                    self.assertEqual([cands[i] for i in s.order], b["all"])

    def test_conversations(self):
        for c in self.golden["compare_conversations"]:
            self.assertAlmostEqual(self.ranker.compare_conversations(c["a"], c["b"]).logit, c["logit_both"], delta=S.TOL)
            self.assertAlmostEqual(self.ranker.compare_conversations(c["a"], c["b"], mode="[A,B]").logit, c["logit_ab"], delta=S.TOL)
        for c in self.golden["compare_conversations_errors"]:
            with self.assertRaises(pairrm.PairRMError) as e:
                self.ranker.compare_conversations(c["a"], c["b"])
            self.assertEqual(e.exception.name, "PAIRRM_ERR_INVALID_CONVERSATION")
            self.assertTrue(e.exception.message)

    def test_checkpoint_folder_and_hub_id(self):
        """Ranker takes a checkpoint folder (converted once into $PAIRRM_CACHE) or a cached hub id;
        an uncached hub id fails with the library's hint, never with network access."""
        c = self.golden["compare"][0]
        saved = {k: os.environ.get(k) for k in ("PAIRRM_CACHE", "HF_HUB_CACHE", "PAIRRM_MODEL")}
        try:
            os.environ["PAIRRM_CACHE"] = os.path.join(S.temp_dir(), "cache2")
            os.environ["HF_HUB_CACHE"] = os.path.join(S.temp_dir(), "hub")
            os.environ.pop("PAIRRM_MODEL", None)
            with pairrm.Ranker(S.CHECKPOINT, recipe="f32") as r:
                self.assertAlmostEqual(r.compare(c["prompt"], c["a"], c["b"]).logit, c["logit_both"], delta=S.TOL)
            with self.assertRaises(pairrm.PairRMError) as e:
                pairrm.Ranker("org/never-fetched")
            self.assertEqual(e.exception.name, "PAIRRM_ERR_IO")
            self.assertIn("pairrm download org/never-fetched", str(e.exception))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class Batched(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ranker = pairrm.Ranker(S.model_path(), max_workers=4)
        cls.golden = S.golden()
        cls.cases = [c for c in cls.golden["compare"] if S.short(c)]

    @classmethod
    def tearDownClass(cls):
        cls.ranker.close()

    def test_compare_batch_equals_sequential(self):
        cases = self.cases * 3
        args = ([c["prompt"] for c in cases], [c["a"] for c in cases], [c["b"] for c in cases],
                [c.get("instruction", "") for c in cases])
        sequential = [self.ranker.compare(p, a, b, instruction=i) for p, a, b, i in zip(*args)]
        self.assertEqual(self.ranker.compare_batch(*args), sequential)
        self.assertEqual(self.ranker.compare_batch(*args, max_workers=1), sequential)
        self.assertEqual(self.ranker.compare_batch(*args, max_workers=3), sequential)
        for got, c in zip(sequential, cases):
            self.assertAlmostEqual(got.logit, c["logit_both"], delta=S.TOL)

    def test_other_batches(self):
        ranks = [c for c in self.golden["rank"] if "source_max_length" not in c]
        got = self.ranker.rank_batch([c["prompt"] for c in ranks], [c["candidates"] for c in ranks],
                                     instructions=[c.get("instruction", "") for c in ranks])
        self.assertEqual([r.ranks for r in got], [c["ranks"] for c in ranks])
        refs = self.golden["rank_with_ref"]
        got = self.ranker.rank_with_ref_batch([c["prompt"] for c in refs], [c["candidates"] for c in refs],
                                              references=[c.get("reference") or pairrm.pick_reference(c["candidates"], c["ref_mode"]) for c in refs],
                                              instructions=[c.get("instruction", "") for c in refs])
        self.assertEqual([r.ranks for r in got], [c["ranks"] for c in refs])
        bon = self.golden["best_of_n"][0]
        sel = self.ranker.best_of_n_batch([bon["prompt"]] * 3, [bon["candidates"]] * 3, strategy="full")
        self.assertEqual({bon["candidates"][s.index] for s in sel}, {bon["best_full"]})
        sel = self.ranker.worst_of_n_batch([bon["prompt"]] * 2, [bon["candidates"]] * 2, start_order=[0, 1, 2, 3, 4, 5])
        self.assertEqual([bon["candidates"][s.index] for s in sel], [bon["worst_bubble"][0]["choice"]] * 2)
        conv = self.golden["compare_conversations"]
        got = self.ranker.compare_conversations_batch([c["a"] for c in conv], [c["b"] for c in conv])
        for g, c in zip(got, conv):
            self.assertAlmostEqual(g.logit, c["logit_both"], delta=S.TOL)

    def test_thread_pool_shares_one_ranker(self):
        """Many threads on one Ranker (the GIL is released in each call) give the sequential results."""
        cases = self.cases
        expected = [self.ranker.compare(c["prompt"], c["a"], c["b"], c.get("instruction", "")).logit for c in cases]
        rank_case = self.golden["rank"][4]
        expected_rank = self.ranker.rank(rank_case["prompt"], rank_case["candidates"])
        jobs = list(range(8 * len(cases)))

        def work(i):
            if i % 5 == 0:
                return self.ranker.rank(rank_case["prompt"], rank_case["candidates"])
            c = cases[i % len(cases)]
            return self.ranker.compare(c["prompt"], c["a"], c["b"], c.get("instruction", "")).logit

        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(work, jobs))
        want = [expected_rank if i % 5 == 0 else expected[i % len(cases)] for i in jobs]
        self.assertEqual(got, want)

    def test_numpy_and_pandas_inputs(self):
        np = S.optional("numpy")
        if np is None:
            self.skipTest("numpy is not installed")
        c = self.golden["rank"][3]
        want = self.ranker.rank(c["prompt"], c["candidates"])
        self.assertEqual(self.ranker.rank(np.str_(c["prompt"]), np.array(c["candidates"])), want)
        self.assertEqual(self.ranker.rank(c["prompt"], np.array(c["candidates"], dtype=object)), want)
        pd = S.optional("pandas")
        if pd is not None:
            self.assertEqual(self.ranker.rank(c["prompt"], pd.Series(c["candidates"])), want)
            df = pd.DataFrame({"p": [x["prompt"] for x in self.cases], "a": [x["a"] for x in self.cases],
                               "b": [x["b"] for x in self.cases]})
            got = self.ranker.compare_batch(df["p"], df["a"], df["b"])
            self.assertEqual(got, [self.ranker.compare(x["prompt"], x["a"], x["b"]) for x in self.cases])


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ranker = pairrm.Ranker(S.model_path())

    @classmethod
    def tearDownClass(cls):
        cls.ranker.close()

    def status(self, fn, *args, **kwargs):
        with self.assertRaises(pairrm.PairRMError) as e:
            fn(*args, **kwargs)
        self.assertTrue(e.exception.message, "the library's message is carried")
        self.assertIn(e.exception.message, str(e.exception))
        return e.exception.name

    def test_library_errors_carry_the_message(self):
        r = self.ranker
        self.assertEqual(self.status(r.compare, "p", "a\udc80", "b"), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(self.status(r.compare, "p", b"\xff\xfe", "b"), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(self.status(r.compare, b"\xc3", "a", "b"), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(self.status(r.rank, "p", ["ok", "\ud800"]), "PAIRRM_ERR_INVALID_UTF8")
        self.assertEqual(self.status(r.rank, "p", []), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(self.status(r.best_of_n, "p", []), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(self.status(r.best_of_n, "p", ["a", "b"], start_order=[0, 0]), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(self.status(r.compare_conversations, [], []), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(self.status(r.metadata, "no.such.key"), "PAIRRM_ERR_NOT_FOUND")
        self.assertEqual(self.status(pairrm.Ranker, "/nonexistent/model.prm"), "PAIRRM_ERR_IO")
        self.assertEqual(self.status(pairrm.Ranker, data=b"\0" * 64), "PAIRRM_ERR_INVALID_MODEL")
        self.assertEqual(self.status(pairrm.Ranker, S.model_path(), threads=0), "PAIRRM_ERR_INVALID_ARGUMENT")
        self.assertEqual(self.status(pairrm.Ranker, S.CHECKPOINT, recipe="q7"), "PAIRRM_ERR_INVALID_ARGUMENT")

    def test_python_type_and_value_errors(self):
        r = self.ranker
        for bad in (None, 3, 1.5, ["list"], {"a": 1}):
            with self.assertRaises(TypeError):
                r.compare("p", bad, "b")
            with self.assertRaises(TypeError):
                r.compare(bad, "a", "b")
        for bad in (None, "one string", b"bytes", 7, {"a": "b"}):
            with self.assertRaises(TypeError):
                r.rank("p", bad)
        with self.assertRaises(TypeError):
            r.rank("p", ["a", None])
        with self.assertRaises(ValueError):
            r.compare("p", "a\0b", "c")  # a C string would silently end at the NUL
        with self.assertRaises(ValueError):
            r.compare("p", "a", "b", mode="sideways")
        with self.assertRaises(ValueError):
            r.rank("p", ["a", "b"], strategy="bogo")
        with self.assertRaises(ValueError):
            r.best_of_n("p", ["a", "b"], start_order=[0])
        with self.assertRaises(ValueError):
            r.best_of_n("p", ["a", "b"], start_order=[0, -1])
        with self.assertRaises(ValueError):
            r.rank_with_ref("p", [])
        with self.assertRaises(ValueError):
            r.rank_with_ref("p", ["a"], ref_mode="tallest")
        with self.assertRaises(TypeError):
            r.compare_conversations([{"role": "USER", "content": "x"}, "x"], [])
        with self.assertRaises(ValueError):
            r.compare_conversations([{"role": "USER"}], [{"role": "USER", "content": "x"}])
        with self.assertRaises(ValueError):
            r.compare_batch(["p", "q"], ["a"], ["b"])
        with self.assertRaises(ValueError):
            r.compare_batch(["p"], ["a"], ["b"], instructions=["", ""])
        with self.assertRaises(TypeError):
            pairrm.Ranker(S.model_path(), no_such_option=1)
        with self.assertRaises(TypeError):
            pairrm.Ranker(S.model_path(), threads="2")
        with self.assertRaises(TypeError):
            pairrm.Ranker(S.model_path(), data=b"x")
        with self.assertRaises(TypeError):
            pairrm.Ranker(12)
        # empty batches are fine
        self.assertEqual(r.compare_batch([], [], []), [])
        self.assertEqual(r.rank_batch([], []), [])

    def test_errors_inside_the_thread_pool(self):
        with self.assertRaises(pairrm.PairRMError) as e:
            self.ranker.compare_batch(["p"] * 6, ["a"] * 5 + [b"\xff"], ["b"] * 6, max_workers=3)
        self.assertEqual(e.exception.name, "PAIRRM_ERR_INVALID_UTF8")

    def test_closed(self):
        r = pairrm.Ranker(S.model_path())
        handle = r.handle
        r.close()
        r.close()
        with self.assertRaises(pairrm.PairRMError) as e:
            r.compare("p", "a", "b")
        self.assertEqual(e.exception.name, "PAIRRM_ERR_INVALID_HANDLE")
        self.assertEqual(pairrm.load_library().pairrm_model_free(handle), 4)  # the library detects it too

    def test_pickle_reloads(self):
        import pickle
        r2 = pickle.loads(pickle.dumps(self.ranker))
        try:
            self.assertEqual(r2.compare("p", "a", "b"), self.ranker.compare("p", "a", "b"))
        finally:
            r2.close()
        error = pickle.loads(pickle.dumps(pairrm.PairRMError(2, "bad text")))
        self.assertEqual((error.name, error.message), ("PAIRRM_ERR_INVALID_UTF8", "bad text"))


class Packaging(unittest.TestCase):
    def test_version_is_the_swift_version(self):
        with open(os.path.join(S.ROOT, "Sources", "PairRMFormat", "Version.swift"), encoding="utf-8") as f:
            want = re.search(r'public static let string = "([^"]+)"', f.read()).group(1)
        self.assertEqual(pairrm.__version__, want)
        self.assertEqual(pairrm.version(), want)

    def test_typed_and_documented(self):
        here = os.path.dirname(pairrm.__file__)
        self.assertTrue(os.path.exists(os.path.join(here, "py.typed")))
        for obj in (pairrm.Ranker, pairrm.Ranker.compare, pairrm.Ranker.rank, pairrm.Ranker.compare_batch, pairrm.PairRMError):
            self.assertTrue(obj.__doc__, obj)

    def test_bundled_library(self):
        if os.environ.get("PAIRRM_TEST_EXPECT_BUNDLED") != "1":
            self.skipTest("set PAIRRM_TEST_EXPECT_BUNDLED=1 to require the wheel's bundled library")
        self.assertEqual(os.path.dirname(os.path.realpath(pairrm.library_path())),
                         os.path.dirname(os.path.realpath(pairrm.__file__)))

    def test_import_needs_nothing_else(self):
        code = ("import sys, pairrm, pairrm.blender, pairrm.trl, pairrm.ray, pairrm.spark, pairrm.conversation\n"
                "heavy = sorted(m for m in ('torch', 'ray', 'pyspark', 'trl', 'pandas', 'transformers') if m in sys.modules)\n"
                "assert not heavy, heavy\n"
                "print(pairrm.__version__)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
