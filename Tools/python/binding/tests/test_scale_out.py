"""Scale-out: the pair scorer on pandas / numpy / row batches, the Spark mapInPandas function
called directly on an iterator of pandas DataFrames (pyspark is not needed), and, when Ray is
installed, a Ray Data map_batches pipeline on a local 2-CPU cluster with 2 actors."""
import json
import os
import time
import unittest

from pairrm.pairs import PairScorer
from pairrm.spark import OUTPUT_FIELDS, score_pairs_in_pandas
import _support as S

pd = S.optional("pandas")
np = S.optional("numpy")


def pairs():
    cases = [c for c in S.golden()["compare"] if S.short(c) and "instruction" not in c]
    return [{"prompt": c["prompt"], "a": c["a"], "b": c["b"], "id": k, "want": c["logit_both"]} for k, c in enumerate(cases)]


class PairBatches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scorer = PairScorer(S.model_path(), threads=1, max_workers=2)
        cls.rows = pairs()

    @classmethod
    def tearDownClass(cls):
        cls.scorer.close()

    def test_rows(self):
        out = self.scorer([dict(r) for r in self.rows])
        for r in out:
            self.assertAlmostEqual(r["logit"], r["want"], delta=S.TOL)
            self.assertEqual(r["verdict"], "a" if r["want"] > 0 else ("b" if r["want"] < 0 else "tie"))

    def test_numpy_dict(self):
        if np is None:
            self.skipTest("numpy is not installed")
        batch = {k: np.array([r[k] for r in self.rows]) for k in ("prompt", "a", "b", "want")}
        out = self.scorer(batch)
        self.assertEqual(str(out["logit"].dtype), "float32")
        for got, want in zip(out["logit"].tolist(), batch["want"].tolist()):
            self.assertAlmostEqual(got, want, delta=S.TOL)
        with self.assertRaises(KeyError):
            self.scorer({"prompt": batch["prompt"]})

    def test_spark_map_in_pandas(self):
        if pd is None:
            self.skipTest("pandas is not installed")
        df = pd.DataFrame(self.rows)
        fn = score_pairs_in_pandas(S.model_path(), threads=1)
        out = list(fn(iter([df.iloc[:3], df.iloc[3:]])))
        self.assertEqual(len(out), 2)
        scored = pd.concat(out)
        self.assertEqual(list(scored.columns), list(df.columns) + ["logit", "verdict"])
        for got, want in zip(scored["logit"], scored["want"]):
            self.assertAlmostEqual(float(got), want, delta=S.TOL)
        self.assertEqual(OUTPUT_FIELDS, "logit float, verdict string")
        # the model is loaded once per process and reused by the next task
        again = list(score_pairs_in_pandas(S.model_path(), threads=1)(iter([df.iloc[:1]])))
        self.assertAlmostEqual(float(again[0]["logit"].iloc[0]), self.rows[0]["want"], delta=S.TOL)
        from pairrm import spark
        self.assertEqual(len(spark._scorers), 1)
        bad = df.copy()
        bad.loc[0, "a"] = None
        with self.assertRaises(TypeError):
            list(fn(iter([bad])))


class RayPipeline(unittest.TestCase):
    def test_map_batches_two_actors(self):
        try:
            import ray
        except ImportError:
            self.skipTest("ray is not installed (ci_test.sh installs it unless --no-ray)")
        rows = pairs() * 4
        path = os.path.join(S.temp_dir(), "pairs.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        from pairrm.ray import PairRMScorer, score_pairs
        started = time.time()
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.init(num_cpus=3, include_dashboard=False, configure_logging=False, log_to_driver=False)
        try:
            ds = ray.data.read_json(path)
            scored = ds.map_batches(PairRMScorer, fn_constructor_kwargs={"model": os.path.abspath(S.model_path()), "threads": 1},
                                    concurrency=2, num_cpus=1, batch_size=4, batch_format="pandas")
            out = sorted(scored.take_all(), key=lambda r: r["id"])
            self.assertEqual(len(out), len(rows))
            for r in out:
                self.assertAlmostEqual(float(r["logit"]), r["want"], delta=S.TOL)
            # the helper: JSONL in, JSON lines out, numpy batches
            target = os.path.join(S.temp_dir(), "scored")
            score_pairs(path, S.model_path(), output_path=target, workers=2, threads=1, batch_size=4, batch_format="numpy")
            written = []
            for name in sorted(os.listdir(target)):
                with open(os.path.join(target, name), encoding="utf-8") as f:
                    written += [json.loads(line) for line in f]
            self.assertEqual(len(written), len(rows))
            for r in written:
                self.assertAlmostEqual(r["logit"], r["want"], delta=S.TOL)
        finally:
            ray.shutdown()
        print("ray pipeline: %.1fs" % (time.time() - started))


if __name__ == "__main__":
    unittest.main()
