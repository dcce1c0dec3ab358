#!/usr/bin/env python3
"""Writes tests/fixtures/render/cases.jsonl: samples rendered by an independent Python implementation of Honeybee's
prompt construction, for every template set in templates/ and the test set tests/fixtures/render/edge.yaml.

The reference follows spec-data.md (not hb's C code): Python's str.format fills the patterns (so escapes, literal
braces in values and missing fields behave exactly as in Honeybee's templatizer), the instruction is joined to the
system line unformatted, options are laid out as Honeybee's optionize does (the answer letter found with
list.index on the reordered list), LLaVA turns are cut with re.split over the escaped image markers, ShareGPT turns
follow its first-turn and "<image>" rules, and turns are the pieces of re.split on the role markers.

Samples come from the real excerpts in ../shared/fixtures/real (VQAv2, GQA, Visual Genome QA, VSR, ScienceQA,
LLaVA-Pretrain conversations and captions, ShareGPT) plus written ones for the datasets without a real excerpt
(A-OKVQA, RefCOCO*, VG regions, the evaluation prompts, edge cases). Choices (pattern, option order, index style)
are drawn with random.Random(SEED) and stored with each case, in hb's "choices" JSON; the C test replays them with
hb_render_replay and must reproduce text and turns byte for byte. Rerun after changing a template set:
    python3 tests/ref/gen_render_fixtures.py
"""
import collections, json, os, random, re, string
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(ROOT, "..", "shared", "fixtures", "real")
OUT = os.path.join(ROOT, "tests", "fixtures", "render", "cases.jsonl")
SEED = 20240607
SETS = ["templates/honeybee.yaml", "templates/coarse.yaml", "templates/multi.yaml", "templates/multi-flip.yaml",
        "templates/task-name.yaml", "templates/dataset-name.yaml", "tests/fixtures/render/edge.yaml"]


def real(*p):
    return os.path.join(REAL, *p)


# ---- the reference renderer ----
class TemplateSet:
    def __init__(self, path):
        self.path = path
        d = yaml.safe_load(open(os.path.join(ROOT, path), encoding="utf-8"))
        self.system = d["system"]
        self.conv_system = d["conversation"]["system"]
        self.markers = d["conversation"]["image_markers"]
        self.options = self._opts({"shuffle": False, "index": "A.", "answer": "index"}, d.get("options") or {})
        self.patterns = {}
        for key, plist in d["patterns"].items():
            self.patterns[key] = [(p.get("instruction", ""), p.get("input", ""), p["target"],
                                   self._opts(self.options, p.get("options") or {}),
                                   p.get("name", ""), bool(p.get("flip", False))) for p in plist]
        self.datasets = d.get("datasets") or {}

    @staticmethod
    def _opts(base, over):
        o = dict(base)
        o.update(over)
        return o

    def key(self, dataset):
        if dataset in self.datasets:
            return self.datasets[dataset]
        return dataset if dataset in self.patterns else None


def label(style, i):
    c = style[1] if style.startswith("(") else style[0]
    return chr(ord("A") + i) if c == "A" else chr(ord("a") + i) if c == "a" else str(i + 1)


def decorate(style, lab):
    if style.startswith("("):
        return "(%s)" % lab
    return lab + style[1]


def optionize(options, answer_idx, order, style, answer_text):
    shuffled = [options[i] for i in order]
    answer = options[answer_idx]
    pos = shuffled.index(answer)
    option_str = "\n".join("%s %s" % (decorate(style, label(style, i)), o) for i, o in enumerate(shuffled))
    ans = label(style, pos)
    if answer_text:
        ans = "%s. %s" % (ans, answer)
    return option_str, ans, answer


def split_turns(text):
    pieces = re.split(r"(\nHuman: |\nAI: )", text)
    turns = [{"role": "system", "text": pieces[0]}] if pieces[0] else []
    for i in range(1, len(pieces), 2):
        turns.append({"role": "human" if pieces[i] == "\nHuman: " else "ai", "text": pieces[i + 1]})
    return turns


def render_templated(ts, sample, rnd):
    key = ts.key(sample["dataset"])
    plist = ts.patterns[key]
    pi = rnd.randrange(len(plist))
    inst, inp, tgt, opts, name, flip = plist[pi]
    exs, draws = [], []
    for ex in sample["examples"]:
        fields = {k: v for k, v in ex.items() if k not in ("options", "answer_idx", "record")}
        if "options" in ex:
            n = len(ex["options"])
            order = list(range(n))
            if opts["shuffle"]:
                rnd.shuffle(order)
            style = opts["index"]
            if style == "random":  # the case, then the decoration, each uniformly
                case = rnd.choice("Aa1")
                style = [case + ".", case + ")", "(" + case + ")"][rnd.randrange(3)]
            fields["option"], fields["answer"], fields["answer_text"] = optionize(
                ex["options"], ex["answer_idx"], order, style, opts["answer"] == "index-text")
            draws.append({"order": order, "index": style})
        else:
            draws.append(None)
        exs.append(fields)
    n_images = sample["image"] if isinstance(sample["image"], int) and not isinstance(sample["image"], bool) \
        else int(bool(sample["image"]))
    if inst == "[NO_PROMPT]":
        text = "[NO_PROMPT] <image> " + tgt.format(**exs[0])
        turns = [{"role": "system", "text": "[NO_PROMPT]"}, {"role": "human", "text": "<image>"},
                 {"role": "ai", "text": tgt.format(**exs[0])}]
    else:
        parts = [" ".join(x for x in [ts.system, inst] if x)] + ["Human: <image>"] * n_images
        parts += ["Human: " + inp.format(**f) + "\n" + "AI: " + tgt.format(**f) for f in exs]
        text = "\n".join(p for p in parts if p)
        turns = split_turns(text)
    choices = {"template": key, "pattern": pi}
    if name:
        choices["name"] = name
    if flip:
        choices["flip"] = True
    if any(d is not None for d in draws):
        choices["options"] = draws
    return text, turns, choices


ROLE = {"human": "\nHuman: ", "user": "\nHuman: ", "gpt": "\nAI: ", "ai": "\nAI: "}


def render_conversation(ts, sample):
    text = ts.conv_system
    skipped = False
    if sample.get("image"):
        pat = "|".join(map(re.escape, ts.markers))
        for turn in sample["conversations"]:
            text += ROLE[turn["from"]]
            chunks = [x for x in re.split("(%s)" % pat, turn["value"]) if len(x) > 0]
            for i, t in enumerate(chunks):
                if t in ts.markers:
                    t = "<image>"
                    t = ("\nHuman: " + t) if i != 0 else (t + "\nHuman: ")
                text += t
    else:
        for i, turn in enumerate(sample["conversations"]):
            if i == 0 and turn["from"] not in ("human", "user"):
                skipped = True
                continue
            text += ROLE[turn["from"]] + turn["value"]
        text = text.replace("<image>", "image")
    choices = {"conversation": True}
    if skipped:
        choices["skipped_first_turn"] = True
    return text, split_turns(text), choices


# ---- samples ----
def qa(i, ds, image, *pairs, **extra):
    return {"id": "%s/%s" % (ds, i), "dataset": ds, "image": image,
            "examples": [dict(question=q, answer=a, **extra) for q, a in pairs]}


def samples_templated():
    out = []
    # VQAv2: the real excerpt, one multi-turn sample per image
    qs = json.load(open(real("vqav2", "v2_OpenEnded_mscoco_train2014_questions.excerpt.json")))["questions"]
    an = json.load(open(real("vqav2", "v2_mscoco_train2014_annotations.excerpt-trimmed.json")))["annotations"]
    # the trimmed excerpt keeps the ten human answers only: take the most common one
    am = {a["question_id"]: collections.Counter(x["answer"] for x in a["answers"]).most_common(1)[0][0] for a in an}
    out.append(qa(qs[0]["image_id"], "vqav2", True, *[(q["question"], am[q["question_id"]]) for q in qs]))
    out.append(qa("single", "vqa", True, (qs[1]["question"], am[qs[1]["question_id"]])))
    # GQA (with the full answer)
    for qid, q in json.load(open(real("gqa", "balanced_questions.excerpt_202218649.json"))).items():
        out.append({"id": "gqa/" + qid, "dataset": "gqa", "image": True, "examples": [
            {"question": q["question"], "answer": q["answer"], "full_answer": q["fullAnswer"]}]})
    # Visual Genome QA as VQA
    for img in json.load(open(real("visual_genome", "question_answers.excerpt.json")))[:2]:
        out.append(qa(img["id"], "vgqa", True, *[(x["question"], x["answer"]) for x in img["qas"][:4]]))
    # OCR-VQA (no real excerpt): book-cover questions
    out.append(qa("0001", "ocrvqa", True, ("Who wrote this book?", "Jane Austen"),
                  ("What is the title of this book?", "Pride and Prejudice"), ("Is this a comedy book?", "No")))
    # VSR: real captions; the question is a simple rewrite (the rewrite itself is not under test here)
    for line in open(real("vsr", "random_train.excerpt.jsonl")).readlines()[:6]:
        r = json.loads(line)
        cap = r["caption"].rstrip(".")
        m = re.match(r"^The (.*?) is (.*)$", cap)
        interro = "Is the %s %s?" % (m.group(1), m.group(2)) if m else cap + "?"
        out.append({"id": "vsr/" + r["image"], "dataset": "vsr", "image": True, "examples": [
            {"question": r["caption"], "question_interro": interro, "answer": "yes" if r["label"] else "no"}]})
    # ScienceQA: real problems (train ones for sqa, test ones for the eval prompt), with and without image
    probs = json.load(open(real("scienceqa", "problems.excerpt150.json")))
    for split, ds in (("train", "sqa"), ("test", "eval-sqa")):
        for pid, p in [(k, v) for k, v in probs.items() if v["split"] == split][:6]:
            out.append({"id": "%s/%s" % (ds, pid), "dataset": ds, "image": p["image"] is not None, "examples": [
                {"question": p["question"], "context": p["hint"] or "N/A", "lecture": p["lecture"],
                 "solution": p["solution"], "options": p["choices"], "answer_idx": p["answer"]}]})
    # A-OKVQA (no real excerpt)
    for i, (q, ch, a) in enumerate([
            ("What is the man holding?", ["umbrella", "kite", "bat", "racket"], 2),
            ("Why is the dog wearing a vest?", ["it is cold", "it is a service dog", "for fashion", "to swim"], 1),
            ("What will the woman do next?", ["cut the cake", "leave", "sleep", "paint"], 0)]):
        out.append({"id": "aokvqa/%d" % i, "dataset": "aokvqa", "image": True, "examples": [
            {"question": q, "options": ch, "answer_idx": a, "rationale": "A short rationale."}]})
    # referring expressions and regions (no real excerpt)
    for ds, phrase, box in [("refcoco", "man on left in red shirt", "[0.102,0.230,0.455,0.998]"),
                            ("refcocop", "woman wearing a striped dress", "[0.500,0.100,0.900,0.950]"),
                            ("refcoco+", "blue car", "[0.000,0.600,0.300,1.000]"),
                            ("refcocog", "a brown dog lying on the sofa next to a pillow", "[0.210,0.400,0.780,0.870]"),
                            ("vgloc", "white clouds in blue sky", "[0.000,0.000,1.000,0.310]"),
                            ("vg", "a wooden fence", "[0.120,0.700,0.980,1.020]")]:
        for j in range(2):
            out.append({"id": "%s/%d" % (ds, j), "dataset": ds, "image": True,
                        "examples": [{"phrase": phrase, "bbox": box}]})
    # captioning: real LLaVA-Pretrain captions
    for r in json.load(open(real("llava", "blip_laion_cc_sbu_558k.excerpt300.json")))[:3]:
        out.append({"id": "coyo100m/" + r["id"], "dataset": "coyo100m", "image": True,
                    "examples": [{"caption": r["conversations"][1]["value"]}]})
    # evaluation prompts
    out.append(qa("0", "mme", True, ("Is there a train in this image? Please answer yes or no.", "")))
    out.append({"id": "mmb/0", "dataset": "mmb", "image": True, "examples": [{"question":
                "Which animal is shown?\nContext: N/A\nThere are several options:\nA. cat\nB. dog\nC. N/A\nD. N/A\n"
                "E. N/A\n"}]})
    out.append({"id": "pope/0", "dataset": "pope", "image": True, "examples": [{"question":
                "Is there a dining table in the image?"}]})
    return out


def samples_edge():
    return [
        {"id": "edge/qa0", "dataset": "edge-qa", "image": True, "examples": [
            {"question": "Values keep {braces} and {answer} as text", "answer": "a {b} c"},
            {"question": "Second turn, unicode: h\u00e9llo \u65e5\u672c \ud55c\uad6d\uc5b4 \U0001F469\u200d\U0001F467", "answer": "x\\y \"q\""}]},
        {"id": "edge/qa1", "dataset": "edge-qa", "image": 0, "examples": [{"question": "text only", "answer": "no"}]},
        {"id": "edge/qa2", "dataset": "edge-qa", "image": 2, "examples": [{"question": "two images", "answer": "2"}]},
    ] + [{"id": "edge/mc%d" % i, "dataset": "edge-mc", "image": True, "examples": [
        {"question": "Pick %d" % i, "options": opts, "answer_idx": a},
        {"question": "Again", "options": ["yes", "no"], "answer_idx": 1}]}
        for i, (opts, a) in enumerate([(["one", "two", "three"], 2), (list(string.ascii_lowercase[:12]), 7),
                                       (["x"], 0), (["alpha", "beta", "gamma", "delta", "epsilon"], 4)] * 3)]


def samples_conversations():
    out = []
    for r in json.load(open(real("llava", "blip_laion_cc_sbu_558k.excerpt300.json")))[:12]:
        out.append({"id": "llava150k/" + r["id"], "dataset": "llava150k", "image": True,
                    "conversations": r["conversations"]})
    out.append({"id": "llava150k/multi", "dataset": "llava150k", "image": True, "conversations": [
        {"from": "human", "value": "<image>\nWhat are the colors of the bus in the image?"},
        {"from": "gpt", "value": "The bus in the image is white and red."},
        {"from": "human", "value": "What feature can be seen on the back of the bus?"},
        {"from": "gpt", "value": "The back of the bus features an advertisement."}]})
    out.append({"id": "llava150k/middle", "dataset": "llava150k", "image": True, "conversations": [
        {"from": "human", "value": "Look:\n<image>\nwhat is it?"}, {"from": "gpt", "value": "A bird."}]})
    out.append({"id": "llava150k/own-marker", "dataset": "edge-conv", "image": 1, "conversations": [
        {"from": "human", "value": "[IMG]<image> what is this?"}, {"from": "gpt", "value": "A cat."}]})
    for r in json.load(open(real("sharegpt", "fastchat_dummy_conversation.excerpt60.json")))[:8]:
        out.append({"id": "vicuna40k/" + r["id"], "dataset": "vicuna40k", "conversations": r["conversations"]})
    out.append({"id": "vicuna40k/gpt-first", "dataset": "vicuna40k", "conversations": [
        {"from": "gpt", "value": "Hello! How can I help?"}, {"from": "human", "value": "Describe <image> tags."},
        {"from": "gpt", "value": "An <image> tag embeds a picture."}]})
    return out


def main():
    rnd = random.Random(SEED)
    cases = []
    templated = samples_templated()
    for path in SETS:
        ts = TemplateSet(path)
        pool = samples_edge() if "edge" in path else templated
        for s in pool:
            if ts.key(s["dataset"]) is None:
                continue
            text, turns, choices = render_templated(ts, s, rnd)
            cases.append({"set": path, "input": s, "choices": choices, "text": text, "turns": turns})
        if path.endswith("honeybee.yaml") or "edge" in path:
            for s in samples_conversations():
                if s["dataset"] == "edge-conv" and "edge" not in path:
                    continue  # "[IMG]<image>" is a marker of the edge set only
                text, turns, choices = render_conversation(ts, s)
                cases.append({"set": path, "input": s, "choices": choices, "text": text, "turns": turns})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print("wrote %d cases to %s (%d bytes)" % (len(cases), OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
