#!/usr/bin/env python3
"""Writes examples/: a tiny sample of every raw format hb-prep reads (PROVENANCE in examples/README.md).

Real excerpts are copied from ../shared/fixtures/real (byte for byte, or a subset of records re-serialised with the
source file's own settings); the formats without a real public sample are written here, field for field after
../shared/docs/raw-formats.md. Images are tiny generated pictures (Pillow) under the names the records use.

Usage: python3 examples/make_examples.py [SHARED_DIR]   (rewrites every file it owns under examples/)
"""
import io
import json
import os
import pickle
import shutil
import sys
import tarfile

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(ROOT), "shared")
REAL = os.path.join(SHARED, "fixtures", "real")


def path(*p):
    full = os.path.join(HERE, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def write(rel, text):
    with open(path(*rel.split("/")), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def copy(src_rel, dst_rel):
    shutil.copyfile(os.path.join(REAL, src_rel), path(*dst_rel.split("/")))


def jpeg_bytes(seed, size=(40, 30)):
    """A small deterministic picture: a background and two shapes whose colours follow the seed."""
    r = (seed * 97) % 256
    g = (seed * 57 + 80) % 256
    b = (seed * 31 + 160) % 256
    im = Image.new("RGB", size, (r, g, b))
    d = ImageDraw.Draw(im)
    w, h = size
    d.rectangle([w // 8, h // 6, w // 2, h // 2], fill=(255 - r, g, 255 - b))
    d.ellipse([w // 2, h // 2, w - 3, h - 3], fill=(b, 255 - g, r))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def image(rel, seed, fmt="JPEG"):
    data = jpeg_bytes(seed)
    if fmt == "PNG":
        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).save(buf, "PNG")
        data = buf.getvalue()
    with open(path("images", *rel.split("/")), "wb") as f:
        f.write(data)


seed = [0]


def next_seed():
    seed[0] += 1
    return seed[0]


# ---------------------------------------------------------------- VQAv2 (real train excerpt + written val pair)
copy("vqav2/v2_OpenEnded_mscoco_train2014_questions.excerpt.json", "vqav2/v2_OpenEnded_mscoco_train2014_questions.json")
copy("vqav2/v2_mscoco_train2014_annotations.excerpt-trimmed.json", "vqav2/v2_mscoco_train2014_annotations.json")
image("coco/train2014/COCO_train2014_000000458752.jpg", next_seed())

INFO = {"description": "This is v2.0 of the VQA dataset.", "url": "http://visualqa.org", "version": "2.0", "year": 2017,
        "contributor": "VQA Team", "date_created": "2017-04-26 17:07:13"}
LICENSE = {"url": "http://creativecommons.org/licenses/by/4.0/",
           "name": "Creative Commons Attribution 4.0 International License"}


def answers(*words):
    return [{"answer": w, "answer_confidence": "yes", "answer_id": i + 1} for i, w in enumerate(words)]


val_q = [
    {"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
    {"image_id": 262148, "question": "What are the people in the background doing?", "question_id": 262148001},
    {"image_id": 262148, "question": "What is he on top of?", "question_id": 262148002},
    {"image_id": 393225, "question": "What is the table made of?", "question_id": 393225000},
    {"image_id": 393225, "question": "Is the bowl full?", "question_id": 393225001},
    {"image_id": 393225, "question": "Is there a spoon in the bowl?", "question_id": 393225002},
]
val_a = [
    # the real record quoted in raw-formats.md §1, key order as in the official file
    {"question_type": "none of the above", "multiple_choice_answer": "down",
     "answers": answers("down", "down", "at table", "skateboard", "down", "table", "down", "down", "down", "down"),
     "image_id": 262148, "answer_type": "other", "question_id": 262148000},
    {"question_type": "what are the", "multiple_choice_answer": "watching",
     "answers": answers(*["watching"] * 7, "spectating", "standing", "watching"),
     "image_id": 262148, "answer_type": "other", "question_id": 262148001},
    {"question_type": "what is he", "multiple_choice_answer": "skateboard",
     "answers": answers(*["skateboard"] * 8, "table", "picnic table"),
     "image_id": 262148, "answer_type": "other", "question_id": 262148002},
    {"question_type": "what is the table made of", "multiple_choice_answer": "wood",
     "answers": answers(*["wood"] * 9, "plastic"), "image_id": 393225, "answer_type": "other", "question_id": 393225000},
    {"question_type": "is the", "multiple_choice_answer": "no",
     "answers": answers(*["no"] * 8, "yes", "no"), "image_id": 393225, "answer_type": "yes/no", "question_id": 393225001},
    {"question_type": "is there a", "multiple_choice_answer": "no",
     "answers": answers(*["no"] * 10), "image_id": 393225, "answer_type": "yes/no", "question_id": 393225002},
]
write("vqav2/v2_OpenEnded_mscoco_val2014_questions.json", json.dumps(
    {"info": INFO, "task_type": "Open-Ended", "data_type": "mscoco", "license": LICENSE, "data_subtype": "val2014",
     "questions": val_q}))
write("vqav2/v2_mscoco_val2014_annotations.json", json.dumps(
    {"info": INFO, "license": LICENSE, "data_subtype": "val2014", "annotations": val_a, "data_type": "mscoco"}))
image("coco/val2014/COCO_val2014_000000262148.jpg", next_seed())
image("coco/val2014/COCO_val2014_000000393225.jpg", next_seed())

# ---------------------------------------------------------------- GQA (real testdev excerpt + written train file)
copy("gqa/balanced_questions.excerpt_202218649.json", "gqa/testdev_balanced_questions.json")
image("gqa/n578564.jpg", next_seed())


def gqa_q(question, image_id, answer, full):
    return {"semantic": [{"operation": "select", "dependencies": [], "argument": "beach (1)"},
                         {"operation": "relate", "dependencies": [0], "argument": "_,on,s (2)"},
                         {"operation": "query", "dependencies": [1], "argument": "name"}],
            "entailed": [], "equivalent": [], "question": question, "imageId": image_id, "isBalanced": True,
            "groups": {"global": None, "local": "14-beach_on,s"}, "answer": answer,
            "semanticStr": "select: beach (1)->relate: _,on,s (2) [0]->query: name [1]",
            "annotations": {"answer": {"0": "2"}, "question": {}, "fullAnswer": {"1": "2"}},
            "types": {"detailed": "relS", "semantic": "rel", "structural": "query"}, "fullAnswer": full}


gqa_train = {
    # the paper's Fig. 5 case: two phrasings with the same answer collapse to one turn under dedup
    "0112330": gqa_q("What's on the beach?", "2375429", "pillow", "The pillow is on the beach."),
    "0112331": gqa_q("Is the sky blue or white?", "2375429", "blue", "The sky is blue."),
    "0112332": gqa_q("What is on the beach?", "2375429", "pillow", "The pillow is on the beach."),
    "0112333": gqa_q("Which color is the pillow?", "2375429", "White", "The pillow is white."),
    "0112334": gqa_q("Who is wearing the shirt?", "2354786", "man", "The man is wearing a shirt."),
    "0112335": gqa_q("Is the pillow white?", "2375429", "white.", "Yes, the pillow is white."),
    "0112336": gqa_q("What is the man wearing?", "2354786", "shirt", "The man is wearing a shirt."),
}
write("gqa/train_balanced_questions.json", json.dumps(gqa_train, indent=4))
image("gqa/2375429.jpg", next_seed())
image("gqa/2354786.jpg", next_seed())

# ---------------------------------------------------------------- OCR-VQA (written; no real excerpt exists)
ocr = {
    # the record quoted from the mmpretrain loader comment (raw-formats.md §3)
    "761183272": {"imageURL": "http://ecx.images-amazon.com/images/I/61Y5cOdHJbL.jpg",
                  "questions": ["Who wrote this book?", "What is the title of this book?",
                                "What is the genre of this book?", "Is this a games related book?",
                                "What is the year printed on this calendar?"],
                  "answers": ["Sandra Boynton", "Mom's Family Wall Calendar 2016", "Calendars", "No", "2016"],
                  "title": "Mom's Family Wall Calendar 2016", "authorName": "Sandra Boynton", "genre": "Calendars",
                  "split": 1},
    "1250048346": {"imageURL": "http://ecx.images-amazon.com/images/I/51-J7eYDxlL.gif",
                   "questions": ["Who is the author of this book?", "What type of book is this?",
                                 "Is this book related to Travel?"],
                   "answers": ["Lonely Planet", "Travel", "Yes"],
                   "title": "Lonely Planet Japan", "authorName": "Lonely Planet", "genre": "Travel", "split": 1},
    "439023483": {"imageURL": "http://ecx.images-amazon.com/images/I/51Hm4M0c0ML.jpg",
                  "questions": ["Who wrote this book?", "Is this a kids book?"],
                  "answers": ["Suzanne Collins", "Yes"],
                  "title": "The Hunger Games", "authorName": "Suzanne Collins", "genre": "Children's Books", "split": 2},
    "60935464": {"imageURL": "http://ecx.images-amazon.com/images/I/41oYdTjGGmL.jpg",
                 "questions": ["Who wrote this book?", "What is the title of this book?"],
                 "answers": ["Harper Lee"],
                 "title": "To Kill a Mockingbird", "authorName": "Harper Lee", "genre": "Literature & Fiction", "split": 1},
}
write("ocrvqa/dataset.json", json.dumps(ocr, indent=4))
image("ocrvqa/761183272.jpg", next_seed())
image("ocrvqa/1250048346.gif", next_seed())  # JPEG bytes under a .gif name: detected by content later

# ---------------------------------------------------------------- VSR (real lines, byte for byte)
with open(os.path.join(REAL, "vsr/random_train.excerpt.jsonl"), encoding="utf-8") as f:
    lines = f.readlines()
picked = lines[:10] + [l for l in lines if "val2017" in l][:2]
write("vsr/train.jsonl", "".join(picked))
for l in picked[:-1]:  # the last line's image is left out: the demo shows a missing image being reported
    link = json.loads(l)["image_link"]
    rel = "/".join(link.split("/")[-2:])
    if not os.path.exists(os.path.join(HERE, "images", "coco", rel)):
        image("coco/" + rel, next_seed())

# ---------------------------------------------------------------- ScienceQA (real subset + LLaVA conversion of it)
with open(os.path.join(REAL, "scienceqa/problems.excerpt150.json"), encoding="utf-8") as f:
    problems = json.load(f)
pids = ["1", "2", "3", "9", "10", "12"]
subset = {k: problems[k] for k in pids}
write("scienceqa/problems.json", json.dumps(subset))
write("scienceqa/pid_splits.json", json.dumps({"train": pids, "val": [], "test": []}))
for k in pids:
    if subset[k]["image"]:
        image("scienceqa/train/%s/image.png" % k, next_seed(), "PNG")


def llava_sqa(pid, p):
    """LLaVA's convert_sqa_to_llava (QCM-LEPA), per raw-formats.md §5."""
    context = p["hint"].strip() or "N/A"
    opts = " ".join("(%s) %s" % (chr(65 + i), c) for i, c in enumerate(p["choices"]))
    human = "%s\nContext: %s\nOptions: %s" % (p["question"], context, opts)
    lecture = p["lecture"].strip().replace("\n", "\\n")
    solution = p["solution"].strip().replace("\n", "\\n")
    parts = []
    if lecture:
        parts.append("LECTURE: " + lecture)
    if solution:
        parts.append("SOLUTION: " + solution)
    gpt = "\n".join(parts) + "\n###\nANSWER: %s." % chr(65 + p["answer"])
    gpt = gpt.replace("  ", " ", 1).strip()
    rec = {"id": pid}
    if p["image"]:
        rec["image"] = "%s/image.png" % pid
        human += "\n<image>"
    rec["conversations"] = [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]
    return rec


write("scienceqa/llava_train_QCM-LEPA.json", json.dumps([llava_sqa(k, subset[k]) for k in pids], indent=2))

# ---------------------------------------------------------------- A-OKVQA (written; no real excerpt exists)
aok = [
    {"split": "train", "image_id": 299207, "question_id": "22MexNkBPpdZGX6sxbxVBH",
     "question": "What is the man by the bags awaiting?", "choices": ["skateboarder", "train", "delivery", "cab"],
     "correct_choice_idx": 3,
     "direct_answers": ["ride", "ride", "bus", "taxi", "travelling", "traffic", "taxi", "cab", "cab", "his ride"],
     "difficult_direct_answer": False,
     "rationales": ["A train would not be on the street, he would not have luggage waiting for a delivery, and the "
                    "skateboarder is there and not paying attention to him so a cab is the only possible answer.",
                    "He has bags as if he is going someone, and he is on a road waiting for vehicle that can only be "
                    "moved on the road and is big enough to hold the bags.",
                    "He looks to be waiting for a paid ride to pick him up."]},
    {"split": "train", "image_id": 57566, "question_id": "2a9VdXu3CPkZVemvxBfbsa",
     "question": "What sort of weather is visible?", "choices": ["sunny", "snowy", "rainy", "foggy"],
     "correct_choice_idx": 1,
     "direct_answers": ["snowy", "snow", "snowy", "cold", "snowy", "snowing", "snowy", "winter", "snowy", "snow"],
     "difficult_direct_answer": False,
     "rationales": ["The ground is covered in snow.", "There is snow everywhere.", "It is snowing."]},
    {"split": "train", "image_id": 57566, "question_id": "2YkCtqTDFGoCqTfjnmtnpN",
     "question": "Which sport is being played?", "choices": ["tennis", "skiing", "golf", "soccer"],
     "correct_choice_idx": 7,
     "direct_answers": ["skiing"] * 10, "difficult_direct_answer": False,
     "rationales": ["They wear skis.", "Skis.", "Snow and skis."]},
]
write("aokvqa/aokvqa_v1p0_train.json", json.dumps(aok))
image("coco/train2017/000000299207.jpg", next_seed())
image("coco/train2017/000000057566.jpg", next_seed())

# ---------------------------------------------------------------- RefCOCO: MDETR json and refer pickle (written)
mdetr_images = [
    {"file_name": "COCO_train2014_000000519404.jpg", "height": 480, "width": 640, "id": 262407, "original_id": 519404,
     "caption": "two woman one in black eatting and the other has a white shirt at the desk", "dataset_name": "refcocog",
     "tokens_negative": [[0, 3]], "tokens_positive_eval": [[[0, 9]]]},
    {"file_name": "COCO_train2014_000000519404.jpg", "height": 480, "width": 640, "id": 262408, "original_id": 519404,
     "caption": "woman in white shirt", "dataset_name": "refcocog", "tokens_negative": [[0, 5]],
     "tokens_positive_eval": [[[0, 5]]]},
    {"file_name": "COCO_train2014_000000581857.jpg", "height": 640, "width": 427, "id": 262409, "original_id": 581857,
     "caption": "the lady with the blue shirt", "dataset_name": "refcocog", "tokens_negative": [[4, 8]],
     "tokens_positive_eval": [[[4, 8]]]},
]
mdetr_anns = [
    {"area": 57185.38, "iscrowd": 0, "image_id": 262407, "category_id": 1, "id": 262407, "bbox": [0.0, 45.95, 238.92, 408.64],
     "original_id": 1241542, "tokens_positive": [[0, 9]]},
    {"area": 40012.6, "iscrowd": 0, "image_id": 262408, "category_id": 1, "id": 262408, "bbox": [350.2, 60.1, 200.5, 380.3],
     "original_id": 1241543, "tokens_positive": [[0, 5]]},
    {"area": 23812.5, "iscrowd": 0, "image_id": 262409, "category_id": 1, "id": 262409, "bbox": [103.93, 299.99, 134.22, 177.42],
     "original_id": 1719310, "tokens_positive": [[4, 8]]},
]
write("refcoco/finetune_refcocog_train.json", json.dumps(
    {"images": mdetr_images, "annotations": mdetr_anns, "categories": [{"supercategory": "person", "id": 1, "name": "person"}]}))
image("coco/train2014/COCO_train2014_000000519404.jpg", next_seed())
image("coco/train2014/COCO_train2014_000000581857.jpg", next_seed())

refs = [
    # ref 0 as quoted in refer's README and code comments (raw-formats.md §7)
    {"sent_ids": [0, 1, 2], "file_name": "COCO_train2014_000000581857_16.jpg", "ann_id": 1719310, "ref_id": 0,
     "image_id": 581857, "split": "train",
     "sentences": [{"tokens": ["the", "lady", "with", "the", "blue", "shirt"], "raw": "THE LADY WITH THE BLUE SHIRT",
                    "sent_id": 0, "sent": "the lady with the blue shirt"},
                   {"tokens": ["lady", "with", "back", "to", "us"], "raw": "lady w back to us", "sent_id": 1,
                    "sent": "lady with back to us"},
                   {"tokens": ["blue", "shirt"], "raw": "blue shirt", "sent_id": 2, "sent": "blue shirt"}],
     "category_id": 1},
    {"sent_ids": [3, 4], "file_name": "COCO_train2014_000000519404_3.jpg", "ann_id": 1241542, "ref_id": 1,
     "image_id": 519404, "split": "testA",
     "sentences": [{"tokens": ["woman", "in", "black"], "raw": "woman in black", "sent_id": 3, "sent": "woman in black"},
                   {"tokens": ["left", "woman"], "raw": "left woman", "sent_id": 4, "sent": "left woman"}],
     "category_id": 1},
    {"sent_ids": [5], "file_name": "COCO_train2014_000000519404_4.jpg", "ann_id": 9999999, "ref_id": 2,
     "image_id": 519404, "split": "train",
     "sentences": [{"tokens": ["right", "woman"], "raw": "right woman", "sent_id": 5, "sent": "right woman"}],
     "category_id": 1},
]
with open(path("refcoco", "refs(unc).p"), "wb") as f:
    pickle.dump(refs, f, protocol=2)  # refer's refs files are Python 2 cPickle dumps; protocol 2 is what it reads
instances = {
    "info": {"description": "This is stable 1.0 version of the 2014 MS COCO dataset.", "version": "1.0", "year": 2014},
    "images": [{"license": 1, "file_name": "COCO_train2014_000000581857.jpg", "coco_url": "", "height": 640,
                "width": 427, "date_captured": "2013-11-17 05:57:24", "flickr_url": "", "id": 581857},
               {"license": 1, "file_name": "COCO_train2014_000000519404.jpg", "coco_url": "", "height": 480,
                "width": 640, "date_captured": "2013-11-14 11:18:45", "flickr_url": "", "id": 519404}],
    "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "Attribution-NonCommercial-ShareAlike License"}],
    "annotations": [
        {"segmentation": [[103.93, 299.99, 238.15, 299.99, 238.15, 477.41, 103.93, 477.41]], "area": 23812.5,
         "iscrowd": 0, "image_id": 581857, "bbox": [103.93, 299.99, 134.22, 177.42], "category_id": 1, "id": 1719310},
        {"segmentation": [[0.0, 45.95, 238.92, 45.95, 238.92, 454.59, 0.0, 454.59]], "area": 57185.38, "iscrowd": 0,
         "image_id": 519404, "bbox": [0.0, 45.95, 238.92, 408.64], "category_id": 1, "id": 1241542}],
    "categories": [{"supercategory": "person", "id": 1, "name": "person"}],
}
write("refcoco/instances.json", json.dumps(instances))

# ---------------------------------------------------------------- Visual Genome (written regions; real QA excerpt)
write("vg/image_data.json", json.dumps([
    {"width": 800, "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/1.jpg", "height": 600, "image_id": 1,
     "coco_id": None, "flickr_id": None},
    {"width": 800, "url": "https://cs.stanford.edu/people/rak248/VG_100K/4.jpg", "height": 600, "image_id": 4,
     "coco_id": None, "flickr_id": None},
]))
write("vg/region_descriptions.json", json.dumps([
    {"regions": [{"region_id": 1382, "width": 82, "height": 139, "image_id": 1, "phrase": "the clock is green in colour",
                  "y": 57, "x": 421},
                 {"region_id": 1383, "width": 182, "height": 109, "image_id": 1, "phrase": "shade is along the street ",
                  "y": 372, "x": 194},
                 {"region_id": 1384, "width": 250, "height": 120, "image_id": 1, "phrase": "man walking on the sidewalk",
                  "y": 500, "x": 600}], "id": 1},
    {"regions": [{"region_id": 5001, "width": 300, "height": 200, "image_id": 4, "phrase": "sailboats on the curtains",
                  "y": 40, "x": 100},
                 {"region_id": 5002, "width": 40, "height": 40, "image_id": 4, "phrase": "   ", "y": 10, "x": 10}],
     "id": 4},
]))
copy("visual_genome/question_answers.excerpt.json", "vg/question_answers.json")
image("vg/1.jpg", next_seed())
image("vg/4.jpg", next_seed())
image("vg/5.jpg", next_seed())

# ---------------------------------------------------------------- LLaVA-Instruct-150K (written after the README records)
conv58k = [
    {"id": "000000033471", "image": "000000033471.jpg", "conversations": [
        {"from": "human", "value": "What are the colors of the bus in the image?\n<image>"},
        {"from": "gpt", "value": "The bus in the image is white and red."},
        {"from": "human", "value": "What feature can be seen on the back of the bus?"},
        {"from": "gpt", "value": "The back of the bus features an advertisement."},
        {"from": "human", "value": "Is the bus driving down the street or pulled off to the side?"},
        {"from": "gpt", "value": "The bus is driving down the street, which is crowded with people and other vehicles."}]},
    {"id": "000000052846", "image": "000000052846.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhere is the cat positioned in the image?"},
        {"from": "gpt", "value": "The cat is positioned on top of the back of the couch in the living room."}]},
]
detail23k = [
    {"id": "000000442786", "image": "000000442786.jpg", "conversations": [
        {"from": "human", "value": "What do you see happening in this image?\n<image>"},
        {"from": "gpt", "value": "The scene depicts a lively plaza area with several people walking and enjoying their "
                                 "time. A man is standing in the plaza with his legs crossed, holding a kite in his hand."}]},
]
complex77k = [
    {"id": "000000215677", "image": "000000215677.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat skill set might someone need to perform such a frisbee trick?"},
        {"from": "gpt", "value": "To perform the frisbee trick shown in the image, where the man is passing a frisbee "
                                 "between or underneath his legs, a person would need a combination of skills."}]},
    {"id": "000000033471", "image": "000000033471.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhy might the bus be crowded?"},
        {"from": "gpt", "value": "The street is busy, so the bus may be carrying commuters at a peak hour."}]},
    {"id": "000000999999", "image": "000000999999.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDescribe the image."},
        {"from": "system", "value": "An unknown role: this record is rejected."}]},
]
write("llava/conversation_58k.json", json.dumps(conv58k, indent=2))
write("llava/detail_23k.json", json.dumps(detail23k, indent=2))
write("llava/complex_reasoning_77k.json", json.dumps(complex77k, indent=2))
for i in ["000000033471", "000000052846", "000000442786", "000000215677"]:
    image("coco/train2017/%s.jpg" % i, next_seed())

# LLaVA-Pretrain: the first records of the real 2k subset, re-serialised as the source was (indent=4, ASCII)
with open(os.path.join(REAL, "llava/blip_laion_cc_sbu_558k.excerpt300.json"), encoding="utf-8") as f:
    blip = json.load(f)[:6]
write("llava/blip_laion_cc_sbu_558k.json", json.dumps(blip, indent=4, ensure_ascii=True))
for r in blip:
    image("llava-pretrain/" + r["image"], next_seed())

# ---------------------------------------------------------------- ShareGPT (real record + written LLaVA-1.5 40K file)
copy("sharegpt/ShareGPT_V4.3_unfiltered_cleaned_split.excerpt1.json", "sharegpt/ShareGPT_V4.3_unfiltered_cleaned_split.json")
s40k = [
    {"id": "i6IyJda_0", "conversations": [
        {"from": "human", "value": "How do I write a <image> tag in HTML?"},
        {"from": "gpt", "value": "HTML has no <image> tag; use <img src=\"cat.png\" alt=\"a cat\"> instead."}]},
    {"id": "AbCdEfG_0", "conversations": [
        {"from": "gpt", "value": "Hello! How can I help you today?"},
        {"from": "human", "value": "Translate 'good morning' into Korean."},
        {"from": "gpt", "value": "\uc88b\uc740 \uc544\uce68\uc785\ub2c8\ub2e4 (joeun achimimnida)."}]},
    {"id": "QWJhYvA_2", "conversations": [
        {"from": "system", "value": "You are a helpful assistant."},
        {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hi! \U0001F600"}]},
    {"id": "XyZ1234_0", "conversations": []},
]
write("sharegpt/llava_v1_5_sharegpt40k.json", json.dumps(s40k, indent=2, ensure_ascii=False) + "\n")

# ---------------------------------------------------------------- webdataset captions (img2dataset layout, written)
def tar_add(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    t.addfile(info, io.BytesIO(data))


with tarfile.open(path("webdataset", "00000.tar"), "w", format=tarfile.USTAR_FORMAT) as t:
    caps = ["Himmel und Huhn - Ace in Action", "a dog running on the beach", "", "two cups of coffee on a table"]
    for k, cap in enumerate(caps):
        key = "%09d" % k
        meta = {"url": "https://example.com/%d.jpg" % k, "caption": cap, "key": key, "status": "success",
                "error_message": None, "width": 40, "height": 30, "original_width": 480, "original_height": 360,
                "exif": None}
        if k != 2:
            tar_add(t, key + ".jpg", jpeg_bytes(next_seed()))
        if cap:
            tar_add(t, key + ".txt", cap.encode())
        tar_add(t, key + ".json", json.dumps(meta, indent=4).encode())
print("examples written under", HERE)
