"""pairrm.trl: the reward function called the way TRL's GRPOTrainer calls reward_funcs (a stub
trainer, not TRL itself), and PairRMJudge.judge with TRL's signature."""
import math
import random
import unittest

import pairrm
from pairrm.trl import PairRMJudge, PairRMReward, reward_function
import _support as S


def grpo_rewards(reward_funcs, dataset, completions_for, num_generations):
    """What GRPOTrainer does per step: each dataset row repeated num_generations times, the
    completions generated for it, then every reward function called with prompts, completions,
    completion_ids and the dataset's other columns as keyword arguments. Returns one list of
    rewards per function and the group-normalized advantages of the first."""
    inputs = [row for row in dataset for _ in range(num_generations)]
    prompts = [x["prompt"] for x in inputs]
    completions = [c for row in dataset for c in completions_for(row)]
    assert len(completions) == len(prompts)
    keys = [k for k in inputs[0] if k not in ("prompt", "completion", "completion_ids")]
    reward_kwargs = {k: [x[k] for x in inputs] for k in keys}
    completion_ids = [[1, 2, 3] for _ in completions]
    rewards = [f(prompts=prompts, completions=completions, completion_ids=completion_ids, trainer_state=None, **reward_kwargs)
               for f in reward_funcs]
    for r in rewards:
        assert isinstance(r, list) and len(r) == len(prompts) and all(isinstance(x, float) for x in r)
    names = [f.__name__ for f in reward_funcs]  # TRL logs rewards under these
    advantages = []
    for g in range(0, len(prompts), num_generations):
        group = rewards[0][g:g + num_generations]
        mean = sum(group) / len(group)
        std = math.sqrt(sum((x - mean) ** 2 for x in group) / max(1, len(group) - 1))
        advantages += [(x - mean) / (std + 1e-4) for x in group]
    return rewards, advantages, names


class RewardFunction(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ranker = pairrm.Ranker(S.model_path(), max_workers=2)
        cls.golden = S.golden()

    @classmethod
    def tearDownClass(cls):
        cls.ranker.close()

    def test_group_relative(self):
        g0, g1 = self.golden["rank"][3], self.golden["rank"][5]
        dataset = [{"prompt": g0["prompt"], "id": 0, "candidates": g0["candidates"]},
                   {"prompt": g1["prompt"], "id": 1, "candidates": g1["candidates"][:4]}]
        reward = PairRMReward(ranker=self.ranker)
        self.assertEqual(reward.__name__, "pairrm")
        rewards, advantages, names = grpo_rewards([reward], dataset, lambda row: row["candidates"], 4)
        for got, want in zip(rewards[0][:4], g0["scores"]):  # LLM-Blender's rank scores of the group
            self.assertAlmostEqual(got, want, delta=S.TOL)
        self.assertEqual(rewards[0][4:], self.ranker.rank(g1["prompt"], g1["candidates"][:4]).scores)
        self.assertAlmostEqual(sum(rewards[0][:4]), 0.0, delta=1e-5)
        self.assertEqual(names, ["pairrm"])
        self.assertEqual(len(advantages), 8)

    def test_groups_by_prompt_not_position(self):
        c = self.golden["rank"][3]
        reward = reward_function(ranker=self.ranker, name="pairrm_group")
        prompts = [c["prompt"], "another prompt", c["prompt"], c["prompt"], "another prompt", c["prompt"]]
        completions = [c["candidates"][0], "x", c["candidates"][1], c["candidates"][2], "y", c["candidates"][3]]
        got = reward(prompts, completions)
        for g, want in zip([got[0], got[2], got[3], got[5]], c["scores"]):
            self.assertAlmostEqual(g, want, delta=S.TOL)
        self.assertAlmostEqual(got[1], -got[4], delta=1e-6)
        self.assertEqual(reward([c["prompt"]], ["alone"]), [0.0])  # a group of one
        self.assertEqual(reward([], []), [])

    def test_against_reference(self):
        cases = [c for c in self.golden["compare"] if S.short(c) and "instruction" not in c]
        dataset = [{"prompt": c["prompt"], "reference": c["b"], "a": c["a"]} for c in cases]
        reward = PairRMReward(ranker=self.ranker, reference_column="reference", name="pairrm_vs_ref")
        rewards, _, names = grpo_rewards([reward], dataset, lambda row: [row["a"], row["reference"]], 2)
        for k, c in enumerate(cases):
            self.assertAlmostEqual(rewards[0][2 * k], c["logit_both"], delta=S.TOL)
            self.assertAlmostEqual(rewards[0][2 * k + 1], 0.0, delta=1e-6)  # the reference itself
        self.assertEqual(names, ["pairrm_vs_ref"])
        with self.assertRaises(KeyError):
            reward(["p"], ["c"])  # the column is missing

    def test_conversational(self):
        """TRL's conversational format: the prompt's messages and the completion become LLM-Blender's
        conversation template, so the reward against a reference is compare_conversations' logit."""
        c = self.golden["compare_conversations"][0]
        prompt = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": c["a"][0]["content"]}]
        completion = [{"role": "assistant", "content": c["a"][1]["content"]}]
        reference = [{"role": "assistant", "content": c["b"][1]["content"]}]
        reward = PairRMReward(ranker=self.ranker, reference_column="reference")
        got = reward([prompt], [completion], reference=[reference])
        self.assertAlmostEqual(got[0], c["logit_both"], delta=S.TOL)
        got = reward([prompt], [completion], reference=[c["b"][1]["content"]])  # a plain-text reference
        self.assertAlmostEqual(got[0], c["logit_both"], delta=S.TOL)
        group = PairRMReward(ranker=self.ranker)([prompt, prompt], [completion, reference])
        self.assertAlmostEqual(group[0], c["logit_both"] / 2, delta=S.TOL)
        multi = self.golden["compare_conversations"][1]
        turns = multi["a"]
        prompt = [{"role": t["role"].lower(), "content": t["content"]} for t in turns[:-1]]
        got = reward([prompt], [[{"role": "assistant", "content": turns[-1]["content"]}]],
                     reference=[[{"role": "assistant", "content": multi["b"][-1]["content"]}]])
        b = turns[:-1] + [multi["b"][-1]]  # the earlier turns are the prompt's, shared by both
        self.assertAlmostEqual(got[0], self.ranker.compare_conversations(turns, b).logit, delta=1e-6)

    def test_bad_input(self):
        reward = PairRMReward(ranker=self.ranker)
        with self.assertRaises(ValueError):
            reward(["p", "q"], ["a"])
        with self.assertRaises(TypeError):
            reward(["p"], [None])
        with self.assertRaises(TypeError):
            reward(None, ["a"])
        with self.assertRaises(pairrm.PairRMError):
            reward(["p", "p"], ["a", b"\xff"])
        with self.assertRaises(TypeError):
            PairRMReward(S.model_path(), ranker=self.ranker)


class Judge(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ranker = pairrm.Ranker(S.model_path())
        cls.judge = PairRMJudge(ranker=cls.ranker)
        cls.cases = [c for c in S.golden()["compare"] if S.short(c) and "instruction" not in c]

    @classmethod
    def tearDownClass(cls):
        cls.ranker.close()

    def test_judge(self):
        prompts = [c["prompt"] for c in self.cases]
        pairs = [[c["a"], c["b"]] for c in self.cases]
        want = [0 if c["logit_both"] >= 0 else 1 for c in self.cases]  # ties: the first
        self.assertEqual(self.judge.judge(prompts, pairs, shuffle_order=False), want)
        for seed in range(3):
            random.seed(seed)
            self.assertEqual(self.judge.judge(prompts, pairs), want)  # shuffle_order=True maps back
        probs = self.judge.judge(prompts, pairs, return_scores=True)
        for p, c in zip(probs, self.cases):
            self.assertAlmostEqual(p, 1 / (1 + math.exp(-c["logit_both"])), delta=S.TOL)
        probs = self.judge.judge(prompts, pairs, shuffle_order=False, return_scores=True, temperature=0.5)
        for p, c in zip(probs, self.cases):
            self.assertAlmostEqual(p, 1 / (1 + math.exp(-c["logit_both"] / 0.5)), delta=S.TOL)

    def test_judge_errors(self):
        with self.assertRaises(ValueError):
            self.judge.judge(["p"], [["a", "b", "c"]])
        with self.assertRaises(ValueError):
            self.judge.judge(["p", "q"], [["a", "b"]])
        with self.assertRaises(TypeError):
            self.judge.judge(["p"], [[None, "b"]])
        self.assertEqual(self.judge.judge([], []), [])


if __name__ == "__main__":
    unittest.main()
