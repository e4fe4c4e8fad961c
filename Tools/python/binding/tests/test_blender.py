"""pairrm.blender.Blender (the LLM-Blender drop-in) against LLM-Blender's parity fixtures:
same method names, arguments, defaults and return types."""
import random
import unittest

import pairrm
import pairrm.blender as llm_blender  # the one line existing code changes
import _support as S


def as_list(x):
    return x.tolist() if hasattr(x, "tolist") else x


class BlenderShim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.blender = llm_blender.Blender()
        cls.blender.loadranker(S.model_path(), device="cpu")  # device is accepted (and ignored)
        cls.golden = S.golden()
        cls.np = S.optional("numpy")

    @classmethod
    def tearDownClass(cls):
        cls.blender.ranker.close()

    def check_type(self, value, dtype):
        if self.np is not None:
            self.assertIsInstance(value, self.np.ndarray)
            self.assertEqual(str(value.dtype), dtype)
        else:
            self.assertIsInstance(value, list)

    def test_compare(self):
        cases = [c for c in self.golden["compare"] if S.short(c)]
        inputs, a, b = [c["prompt"] for c in cases], [c["a"] for c in cases], [c["b"] for c in cases]
        ins = [c.get("instruction", "") for c in cases]
        results = self.blender.compare(inputs, a, b, instructions=ins)
        self.check_type(results, "bool")
        self.assertEqual(as_list(results), [c["result_both"] for c in cases])
        for mode, key in (("[A,B]", "logit_ab"), ("[B,A]", "logit_ba"), ("[A,B]+[B,A]", "logit_both")):
            logits = self.blender.compare(inputs, a, b, instructions=ins, batch_size=2, return_logits=True, mode=mode)
            self.check_type(logits, "float32")
            for got, c in zip(as_list(logits), cases):
                self.assertAlmostEqual(got, c[key], delta=S.TOL)
            self.assertEqual(as_list(self.blender.compare(inputs, a, b, instructions=ins, mode=mode)),
                             [c[key.replace("logit", "result")] for c in cases])

    def test_rank(self):
        plain = [c for c in self.golden["rank"] if "source_max_length" not in c]
        # LLM-Blender needs one candidate count per call: group the fixtures by it
        for n in sorted({len(c["candidates"]) for c in plain}):
            group = [c for c in plain if len(c["candidates"]) == n]
            args = ([c["prompt"] for c in group], [c["candidates"] for c in group])
            ins = [c.get("instruction", "") for c in group]
            ranks = self.blender.rank(*args, instructions=ins)
            self.check_type(ranks, "int32")
            self.assertEqual(as_list(ranks), [c["ranks"] for c in group])
            scores = self.blender.rank(*args, instructions=ins, return_scores=True, batch_size=8)
            self.check_type(scores, "float32")
            for row, c in zip(as_list(scores), group):
                for got, want in zip(row, c["scores"]):
                    self.assertAlmostEqual(got, want, delta=S.TOL)
        capped = [c for c in self.golden["rank"] if "source_max_length" in c][0]
        ranks = self.blender.rank([capped["prompt"]], [capped["candidates"]], source_max_length=capped["source_max_length"],
                                  candidate_max_length=capped["candidate_max_length"], disable_tqdm=True)
        self.assertEqual(as_list(ranks), [capped["ranks"]])

    def test_rank_with_ref(self):
        for c in self.golden["rank_with_ref"]:
            kwargs = {"ref_candidates": [c["reference"]]} if "reference" in c else {"ref_mode": c["ref_mode"]}
            ins = [c["instruction"]] if "instruction" in c else None
            scores = self.blender.rank_with_ref([c["prompt"]], [c["candidates"]], instructions=ins, return_scores=True, **kwargs)
            self.check_type(scores, "float64")
            for got, want in zip(as_list(scores)[0], c["scores"]):
                self.assertAlmostEqual(got, want, delta=S.TOL)
            ranks = self.blender.rank_with_ref([c["prompt"]], [c["candidates"]], instructions=ins, mode="longest", **kwargs)
            self.check_type(ranks, "int32")
            self.assertEqual(as_list(ranks), [c["ranks"]])

    def test_compare_conversations(self):
        cases = self.golden["compare_conversations"]
        a, b = [c["a"] for c in cases], [c["b"] for c in cases]
        self.assertEqual(as_list(self.blender.compare_conversations(a, b)), [c["result_both"] for c in cases])
        logits = self.blender.compare_conversations(a, b, return_logits=True, mode="[A,B]")
        for got, c in zip(as_list(logits), cases):
            self.assertAlmostEqual(got, c["logit_ab"], delta=S.TOL)
        for c in self.golden["compare_conversations_errors"]:
            with self.assertRaises(AssertionError) as e:  # what LLM-Blender raises ...
                self.blender.compare_conversations([c["a"]], [c["b"]])
            self.assertEqual(str(e.exception), c["error"])  # ... with its message
            self.assertIsInstance(e.exception, ValueError)

    def test_get_best_and_worst_of_n(self):
        for c in self.golden["best_of_n"]:
            ins = [c["instruction"]] if "instruction" in c else None
            self.assertEqual(self.blender.get_best_of_n([c["prompt"]], [c["candidates"]], instructions=ins,
                                                        pairrm_cmp_type="full"), [c["best_full"]])
            self.assertEqual(self.blender.get_worst_of_n([c["prompt"]], [c["candidates"]], instructions=ins,
                                                         pairrm_cmp_type="full"), [c["worst_full"]])
            if len(c["candidates"]) > 1:
                # bubble: the start order comes from Python's random (one per call, like torch.randperm)
                n = len(c["candidates"])
                random.seed(7)
                start = random.sample(range(n), n)
                ranker_all = self.blender.ranker.best_of_n(c["prompt"], c["candidates"], instruction=c.get("instruction", ""),
                                                           start_order=start)
                random.seed(7)
                got = self.blender.get_best_of_n([c["prompt"]] * 2, [c["candidates"]] * 2, instructions=ins and ins * 2,
                                                 return_all=True)
                self.assertEqual(got, [[c["candidates"][i] for i in ranker_all.order]] * 2)
                self.assertIsInstance(got[0][0], str)
        self.assertEqual(self.blender.get_best_of_n(["p", "q"], [["only"], ["one"]]), ["only", "one"])
        self.assertEqual(self.blender.get_best_of_n(["p"], [["only"]], return_all=True), [["only"]])

    def test_without_numpy_returns_lists(self):
        saved = llm_blender._np
        llm_blender._np = None
        try:
            c = self.golden["compare"][0]
            self.assertEqual(self.blender.compare([c["prompt"]], [c["a"]], [c["b"]]), [c["result_both"]])
            self.assertIsInstance(self.blender.rank([c["prompt"]], [[c["a"], c["b"]]])[0], list)
        finally:
            llm_blender._np = saved

    def test_errors(self):
        with self.assertRaises(AssertionError):
            self.blender.rank(["p"], [["a"], ["b"]])
        with self.assertRaises(ValueError):
            self.blender.rank(["p", "q"], [["a", "b"], ["c"]])
        with self.assertRaises(ValueError):
            self.blender.compare(["p"], ["a", "b"], ["c", "d"])
        with self.assertRaises(TypeError):
            self.blender.compare(None, ["a"], ["b"])
        with self.assertRaises(pairrm.PairRMError):
            self.blender.compare(["p"], [b"\xff"], ["b"])
        with self.assertRaises(NotImplementedError):
            self.blender.best_of_n_generate(None, None, ["p"])
        with self.assertRaises(RuntimeError):
            llm_blender.Blender().rank(["p"], [["a", "b"]])

    def test_shared_ranker(self):
        shim = llm_blender.Blender(ranker=self.blender.ranker)
        c = self.golden["compare"][0]
        self.assertEqual(as_list(shim.compare([c["prompt"]], [c["a"]], [c["b"]])), [c["result_both"]])


if __name__ == "__main__":
    unittest.main()
