/* lib/text/render: exact texts for every layout (spec-data.md §2.5, §1.11, §1.12, §6.3), the task-name and
 * dataset-name variants, multiple-choice answers that stay right on every re-render, errors that name dataset, sample
 * and field, and determinism across calls and threads. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "text/render.h"

static hb_template_set *load_set(const char *rel) {
    char *p = tu_repo(rel);
    hb_template_set *ts;
    hb_err e;
    cr_assert_eq(hb_template_load(p, &ts, &e), 0, "%s: %s", p, e.reason);
    free(p);
    return ts;
}

/* Render one JSON-lines sample; choices NULL: drawn from seed, else replayed. Returns the text (arena). */
static const char *render_json(const hb_template_set *ts, hb_arena *a, const char *json, uint64_t seed,
                               const char *choices, hb_rendered *out) {
    hb_render_input in;
    hb_err e;
    cr_assert_eq(hb_render_input_from_json(json, strlen(json), &in, a, &e), 0, "%s: %s", json, e.reason);
    int code = choices ? hb_render_replay(ts, &in, choices, a, out, &e) : hb_render(ts, &in, seed, a, out, &e);
    cr_assert_eq(code, 0, "%s: %s", json, e.reason);
    cr_assert_eq(strlen(out->text), out->len);
    return out->text;
}

#define SYS "The following is a conversation between a curious human and AI assistant."
#define LONG SYS " The assistant gives helpful, detailed, and polite answers to the user's questions."

static void expect_turns(const hb_rendered *r, const char *const *want, size_t n) {
    cr_assert_eq(r->n_turns, n, "%u turns, want %zu", r->n_turns, n);
    for (size_t i = 0; i < n; i++) {
        const char *w = want[i];
        int role = w[0] == 'S' ? HB_ROLE_SYSTEM : w[0] == 'H' ? HB_ROLE_HUMAN : HB_ROLE_AI;
        cr_assert_eq(r->turns[i].role, role, "turn %zu role", i);
        cr_assert(r->turns[i].len == strlen(w + 2) && !memcmp(r->turns[i].text, w + 2, r->turns[i].len),
                  "turn %zu: '%.*s' want '%s'", i, (int)r->turns[i].len, r->turns[i].text, w + 2);
    }
}

Test(render, vqav2_two_turns) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *t = render_json(ts, &a,
                                "{\"id\":\"vqav2/458752\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":["
                                "{\"question\":\"What color is the bus?\",\"answer\":\"red\"},"
                                "{\"question\":\"How many people are there?\",\"answer\":\"2\"}]}",
                                1234, NULL, &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\n"
                            "Human: Answer the question using a single word or phrase. What color is the bus?\n"
                            "AI: red\n"
                            "Human: Answer the question using a single word or phrase. How many people are there?\n"
                            "AI: 2");
    static const char *const turns[] = {
        "S " SYS, "H <image>", "H Answer the question using a single word or phrase. What color is the bus?", "A red",
        "H Answer the question using a single word or phrase. How many people are there?", "A 2"};
    expect_turns(&r, turns, 6);
    cr_assert_str_eq(r.choices, "{\"template\":\"vqa\",\"pattern\":0}");
    cr_assert_str_eq(r.key, "vqa");
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, aokvqa_has_a_blank_line_before_ai) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *in = "{\"id\":\"aokvqa/1\",\"dataset\":\"aokvqa\",\"image\":true,\"examples\":[{\"question\":"
                     "\"What is the man holding?\",\"options\":[\"umbrella\",\"kite\",\"bat\",\"racket\"],"
                     "\"answer_idx\":2,\"rationale\":\"r\"}]}";
    const char *t = render_json(ts, &a, in, 0,
                                "{\"template\":\"vqa-o\",\"pattern\":0,\"options\":[{\"order\":[0,1,2,3],"
                                "\"index\":\"A.\"}]}",
                                &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\n"
                            "Human: Answer with the option's letter from the given choices directly. What is the man "
                            "holding?\nThere are several options:\nA. umbrella\nB. kite\nC. bat\nD. racket\n\nAI: C");
    cr_assert_eq(r.n_turns, 4);
    cr_assert_eq(r.turns[2].text[r.turns[2].len - 1], '\n', "the human turn keeps its trailing newline");
    /* seeded: the same layout with some order, and the letter follows "bat" */
    t = render_json(ts, &a, in, 99, NULL, &r);
    const char *bat = strstr(t, " bat\n");
    cr_assert_not_null(bat);
    char letter = bat[-2];
    cr_assert(bat[-1] == '.');
    char want[8];
    snprintf(want, sizeof want, "\n\nAI: %c", letter);
    cr_assert_not_null(strstr(t, want), "%s", t);
    cr_assert_not_null(strstr(r.choices, "\"options\":[{\"order\":["), "%s", r.choices);
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, scienceqa_text_only_has_no_image_line) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *t = render_json(ts, &a,
                                "{\"id\":\"sqa/7\",\"dataset\":\"sqa\",\"image\":false,\"examples\":[{\"question\":"
                                "\"Which word would you find on a dictionary page with the following guide words?\\n"
                                "lever - loaf\",\"context\":\"N/A\",\"options\":[\"lamb\",\"liquid\"],\"answer_idx\":1,"
                                "\"lecture\":\"l\",\"solution\":\"s\"}]}",
                                0, "{\"template\":\"sqa\",\"pattern\":0,\"options\":[{\"order\":[0,1],\"index\":\"A.\"}]}",
                                &r);
    cr_assert_str_eq(t, SYS "\nHuman: Answer with the option's letter from the given choices directly. Which word "
                            "would you find on a dictionary page with the following guide words?\nlever - loaf\n"
                            "Context: N/A\nThere are several options:\nA. lamb\nB. liquid\n\nAI: B");
    cr_assert_eq(r.n_turns, 3);
    cr_assert_null(strstr(t, "<image>"));
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, referring_expressions_and_regions) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *reg = "{\"template\":\"refcocop\",\"pattern\":1}";
    const char *t = render_json(ts, &a,
                                "{\"id\":\"refcoco+/1\",\"dataset\":\"refcoco+\",\"image\":true,\"examples\":["
                                "{\"phrase\":\"woman in striped dress\",\"bbox\":\"[0.102,0.230,0.455,0.998]\"}]}",
                                0, reg, &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\nHuman: Provide a description for the region [0.102,0.230,0.455,0.998], "
                            "focusing on the appearance of objects without using positional words. Example: 'The "
                            "large blue teddy bear holding a red balloon.'\nAI: woman in striped dress");
    cr_assert_str_eq(r.choices, "{\"template\":\"refcocop\",\"pattern\":1,\"name\":\"reg\",\"flip\":true}");
    t = render_json(ts, &a,
                    "{\"id\":\"refcoco/1\",\"dataset\":\"refcoco\",\"image\":true,\"examples\":["
                    "{\"phrase\":\"man on left in red shirt\",\"bbox\":\"[0.102,0.230,0.455,0.998]\"}]}",
                    0, "{\"template\":\"refcoco\",\"pattern\":1}", &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\nHuman: Provide a description for the region [0.102,0.230,0.455,0.998], "
                            "utilizing positional words to refer to objects. Example: 'The large blue teddy bear next "
                            "to the red balloon'\nAI: man on left in red shirt");
    t = render_json(ts, &a,
                    "{\"id\":\"vgloc/9\",\"dataset\":\"vgloc\",\"image\":true,\"examples\":["
                    "{\"phrase\":\"white clouds in blue sky\",\"bbox\":\"[0.000,0.000,1.000,0.310]\"}]}",
                    0, "{\"template\":\"loc\",\"pattern\":0}", &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\nHuman: Provide the bounding box coordinate of the region this sentence "
                            "describes. white clouds in blue sky\nAI: [0.000,0.000,1.000,0.310]");
    cr_assert_str_eq(r.choices, "{\"template\":\"loc\",\"pattern\":0,\"name\":\"rec\"}");
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, captioning_and_the_eval_prompt) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *t = render_json(ts, &a,
                                "{\"id\":\"coyo/1\",\"dataset\":\"coyo100m\",\"image\":true,\"examples\":["
                                "{\"caption\":\"a dog running on the beach\"}]}",
                                5, NULL, &r);
    cr_assert_str_eq(t, "[NO_PROMPT] <image> a dog running on the beach");
    static const char *const turns[] = {"S [NO_PROMPT]", "H <image>", "A a dog running on the beach"};
    expect_turns(&r, turns, 3);
    t = render_json(ts, &a,
                    "{\"id\":\"mme/1\",\"dataset\":\"mme\",\"image\":true,\"examples\":[{\"question\":\"Is there a "
                    "train in this image? Please answer yes or no.\"}]}",
                    5, NULL, &r);
    cr_assert_str_eq(t, SYS "\nHuman: <image>\nHuman: Answer the question using a single word or phrase. Is there a "
                            "train in this image? Please answer yes or no.\nAI: ");
    cr_assert_eq(r.turns[r.n_turns - 1].role, HB_ROLE_AI);
    cr_assert_eq(r.turns[r.n_turns - 1].len, 0);
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, llava_prefix_and_suffix_markers) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *t = render_json(ts, &a,
                                "{\"id\":\"llava/1\",\"dataset\":\"llava150k\",\"image\":true,\"conversations\":["
                                "{\"from\":\"human\",\"value\":\"<image>\\nWhat are the colors of the bus in the image?\"},"
                                "{\"from\":\"gpt\",\"value\":\"The bus in the image is white and red.\"},"
                                "{\"from\":\"human\",\"value\":\"What feature can be seen on the back of the bus?\"},"
                                "{\"from\":\"gpt\",\"value\":\"An advertisement.\"}]}",
                                3, NULL, &r);
    cr_assert_str_eq(t, LONG "\nHuman: <image>\nHuman: What are the colors of the bus in the image?\n"
                             "AI: The bus in the image is white and red.\n"
                             "Human: What feature can be seen on the back of the bus?\nAI: An advertisement.");
    cr_assert_str_eq(r.choices, "{\"conversation\":true}");
    cr_assert_str_eq(r.key, "");
    t = render_json(ts, &a,
                    "{\"id\":\"llava/2\",\"dataset\":\"llava150k\",\"image\":true,\"conversations\":["
                    "{\"from\":\"human\",\"value\":\"What is in the photo?\\n<image>\"},"
                    "{\"from\":\"gpt\",\"value\":\"a garden with a clipped hedge\"}]}",
                    3, NULL, &r);
    cr_assert_str_eq(t, LONG "\nHuman: What is in the photo?\nHuman: <image>\nAI: a garden with a clipped hedge");
    static const char *const turns[] = {"S " LONG, "H What is in the photo?", "H <image>",
                                        "A a garden with a clipped hedge"};
    expect_turns(&r, turns, 4);
    /* the default evaluation prompt (LLaVA-Bench, MM-Vet, OwlEval; spec-data.md §6.3) is a conversation whose
     * assistant turn is empty */
    t = render_json(ts, &a,
                    "{\"id\":\"llavabench/1\",\"dataset\":\"llava150k\",\"image\":true,\"conversations\":["
                    "{\"from\":\"human\",\"value\":\"<image>\\nWhat is unusual about this image?\"},"
                    "{\"from\":\"gpt\",\"value\":\"\"}]}",
                    3, NULL, &r);
    cr_assert_str_eq(t, LONG "\nHuman: <image>\nHuman: What is unusual about this image?\nAI: ");
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, sharegpt_drops_an_opening_assistant_turn_and_defuses_image) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *t = render_json(ts, &a,
                                "{\"id\":\"sharegpt/x\",\"dataset\":\"vicuna40k\",\"conversations\":["
                                "{\"from\":\"gpt\",\"value\":\"Hello! How can I help?\"},"
                                "{\"from\":\"human\",\"value\":\"What does <image> do in HTML?\"},"
                                "{\"from\":\"gpt\",\"value\":\"It shows a picture.\"},"
                                "{\"from\":\"human\",\"value\":\"Thanks\"}]}",
                                3, NULL, &r);
    cr_assert_str_eq(t, LONG "\nHuman: What does image do in HTML?\nAI: It shows a picture.\nHuman: Thanks");
    cr_assert_str_eq(r.choices, "{\"conversation\":true,\"skipped_first_turn\":true}");
    cr_assert_eq(r.n_turns, 4);
    cr_assert_eq(r.turns[3].role, HB_ROLE_HUMAN, "a conversation may end with a human turn");
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, task_name_and_dataset_name_variants) {
    hb_template_set *tn = load_set("templates/task-name.yaml"), *dn = load_set("templates/dataset-name.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rendered r;
    const char *vqa = "{\"id\":\"gqa/1\",\"dataset\":\"gqa\",\"image\":true,\"examples\":[{\"question\":\"What is "
                      "hanging above the chalkboard?\",\"answer\":\"picture\",\"full_answer\":\"x\"}]}";
    cr_assert_str_eq(render_json(tn, &a, vqa, 1, NULL, &r),
                     SYS "\nHuman: <image>\nHuman: vqa-open: What is hanging above the chalkboard?\nAI: picture");
    cr_assert_str_eq(render_json(dn, &a, vqa, 1, NULL, &r),
                     SYS "\nHuman: <image>\nHuman: gqa: What is hanging above the chalkboard?\nAI: picture");
    const char *sqa = "{\"id\":\"sqa/2\",\"dataset\":\"sqa\",\"image\":1,\"examples\":[{\"question\":\"Which is a "
                      "mammal?\",\"context\":\"N/A\",\"options\":[\"frog\",\"cat\"],\"answer_idx\":1,\"lecture\":\"\","
                      "\"solution\":\"\"}]}";
    const char *keep = "{\"template\":\"%s\",\"pattern\":0,\"options\":[{\"order\":[0,1],\"index\":\"A.\"}]}";
    char ch[200];
    snprintf(ch, sizeof ch, keep, "vqa-mc-context");
    cr_assert_str_eq(render_json(tn, &a, sqa, 1, ch, &r),
                     SYS "\nHuman: <image>\nHuman: vqa-mc: Which is a mammal?\nContext: N/A\nThere are several "
                         "options:\nA. frog\nB. cat\n\nAI: B");
    snprintf(ch, sizeof ch, keep, "scienceqa");
    cr_assert_str_eq(render_json(dn, &a, sqa, 1, ch, &r),
                     SYS "\nHuman: <image>\nHuman: scienceqa: Which is a mammal?\nContext: N/A\nThere are several "
                         "options:\nA. frog\nB. cat\n\nAI: B");
    const char *ref = "{\"id\":\"refcocog/3\",\"dataset\":\"refcocog\",\"image\":true,\"examples\":[{\"phrase\":"
                      "\"a brown dog on the sofa\",\"bbox\":\"[0.210,0.400,0.780,0.870]\"}]}";
    cr_assert_str_eq(render_json(tn, &a, ref, 1, "{\"template\":\"rec-reg\",\"pattern\":1}", &r),
                     SYS "\nHuman: <image>\nHuman: reg: [0.210,0.400,0.780,0.870]\nAI: a brown dog on the sofa");
    cr_assert_str_eq(render_json(dn, &a, ref, 1, "{\"template\":\"refcocog\",\"pattern\":0}", &r),
                     SYS "\nHuman: <image>\nHuman: refcocog: a brown dog on the sofa\nAI: [0.210,0.400,0.780,0.870]");
    const char *mme = "{\"id\":\"mme/4\",\"dataset\":\"mme\",\"image\":true,\"examples\":[{\"question\":\"Is there a "
                      "dog? Please answer yes or no.\"}]}";
    cr_assert_str_eq(render_json(tn, &a, mme, 1, NULL, &r),
                     SYS "\nHuman: <image>\nHuman: vqa-open: Is there a dog? Please answer yes or no.\nAI: ");
    cr_assert_str_eq(render_json(dn, &a, mme, 1, NULL, &r),
                     SYS "\nHuman: <image>\nHuman: vqav2: Is there a dog? Please answer yes or no.\nAI: ");
    hb_arena_free(&a);
    hb_template_free(tn);
    hb_template_free(dn);
}

/* ---- multiple choice: the answer letter always names the correct option ---- */
/* Find the option line labelled by the answer and return its text (NULL when absent). */
static const char *option_of_answer(const char *text, const char *answer, char *buf, size_t n) {
    char lab[16];
    size_t al = strcspn(answer, ".");
    snprintf(lab, sizeof lab, "%.*s", (int)al, answer);
    static const char *const deco[] = {"%s. ", "%s) ", "(%s) "};
    for (int d = 0; d < 3; d++) {
        char head[24];
        snprintf(head, sizeof head, deco[d], lab);
        for (const char *p = text; (p = strstr(p, head)); p++) {
            if (p != text && p[-1] != '\n') continue;
            const char *s = p + strlen(head), *e = strchr(s, '\n');
            snprintf(buf, n, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
            return buf;
        }
    }
    return NULL;
}

Test(render, rerendering_multiple_choice_keeps_the_answer_on_the_right_option) {
    hb_template_set *hb = load_set("templates/honeybee.yaml");
    char *edge_path = tu_repo("tests/fixtures/render/edge.yaml");
    hb_template_set *edge;
    hb_err e;
    cr_assert_eq(hb_template_load(edge_path, &edge, &e), 0, "%s", e.reason);
    free(edge_path);
    static const char *const opts[] = {"umbrella", "kite", "bat", "racket", "glove"};
    hb_field f[2] = {{"question", "What is the man holding?"}, {"rationale", "r"}};
    hb_example ex = {.n_fields = 2, .fields = f, .n_options = 5, .options = opts, .answer_idx = 2, .record = 4};
    hb_render_input in = {.id = "aokvqa/77", .dataset = "aokvqa", .n_images = 1, .n_examples = 1, .examples = &ex};
    hb_arena a;
    hb_arena_init(&a, 0);
    char first[4096] = "";
    int positions[5] = {0};
    for (int i = 0; i < 1000; i++) {
        for (int s = 0; s < 2; s++) {
            const hb_template_set *ts = s ? edge : hb;
            in.dataset = s ? "edge-mc" : "aokvqa";
            hb_arena_reset(&a);
            hb_rendered r;
            /* the same seed again and again (i % 7 repeats seeds), and new seeds */
            cr_assert_eq(hb_render(ts, &in, (uint64_t)(i % 7 == 0 ? 42 : i), &a, &r, &e), 0, "%s", e.reason);
            const char *ans = r.turns[r.n_turns - 1].text;
            char answer[64], got[256];
            snprintf(answer, sizeof answer, "%.*s", (int)r.turns[r.n_turns - 1].len, ans);
            cr_assert_not_null(option_of_answer(r.text, answer, got, sizeof got), "no line for %s in %s", answer,
                               r.text);
            cr_assert_str_eq(got, "bat", "answer %s names '%s' in:\n%s", answer, got, r.text);
            if (!s && i % 7 == 0) {
                if (!first[0]) snprintf(first, sizeof first, "%s", r.text);
                else cr_assert_str_eq(r.text, first, "the same seed renders the same text");
            }
            if (!s) positions[answer[0] - 'A']++;
        }
    }
    /* the example itself was never reordered */
    cr_assert_eq(ex.options, opts);
    cr_assert_str_eq(opts[2], "bat");
    cr_assert_eq(ex.answer_idx, 2);
    for (int p = 0; p < 5; p++) cr_assert_gt(positions[p], 120, "position %d: %d of 1000", p, positions[p]);
    hb_arena_free(&a);
    hb_template_free(hb);
    hb_template_free(edge);
}

/* ---- errors name dataset, sample and field ---- */
typedef struct {
    const char *json;
    hb_code code;
    const char *expect[3];
} err_case;

Test(render, errors_name_dataset_sample_and_field) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    static const err_case cases[] = {
        {"{\"id\":\"v/1\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":[{\"question\":\"q\"}]}", HB_ENOTFOUND,
         {"dataset 'vqav2'", "sample 'v/1'", "no field 'answer'"}},
        {"{\"id\":\"v/2\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":[{\"question\":\"q\",\"answer\":\"a\"},"
         "{\"answer\":\"b\",\"record\":17}]}",
         HB_ENOTFOUND, {"sample 'v/2'", "example 1 has no field 'question'", "pattern key 'vqa'"}},
        {"{\"id\":\"x/1\",\"dataset\":\"nonesuch\",\"image\":true,\"examples\":[{\"question\":\"q\"}]}", HB_ENOTFOUND,
         {"dataset 'nonesuch'", "sample 'x/1'", "template set 'honeybee'"}},
        {"{\"id\":\"a/1\",\"dataset\":\"aokvqa\",\"image\":true,\"examples\":[{\"question\":\"q\"}]}", HB_ENOTFOUND,
         {"no field 'option'", "needs the example's options and answer index", "dataset 'aokvqa'"}},
        {"{\"id\":\"a/2\",\"dataset\":\"aokvqa\",\"image\":true,\"examples\":[{\"question\":\"q\",\"options\":"
         "[\"x\",\"y\"],\"answer_idx\":2}]}",
         HB_ERANGE, {"sample 'a/2'", "answer index 2 is outside the 2 options", "example 0"}},
        {"{\"id\":\"v/3\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":[{\"question\":\"see <image> here\","
         "\"answer\":\"a\"}]}",
         HB_EFORMAT, {"field 'question'", "image placeholder", "sample 'v/3'"}},
        {"{\"id\":\"v/4\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":[{\"question\":\"q\\nAI: a\","
         "\"answer\":\"a\"}]}",
         HB_EFORMAT, {"field 'question'", "role boundary", "sample 'v/4'"}},
        {"{\"id\":\"v/5\",\"dataset\":\"vqav2\",\"image\":true,\"examples\":[{\"question\":\"q\",\"answer\":\"\"}]}",
         HB_EFORMAT, {"empty answer", "sample 'v/5'", "dataset 'vqav2'"}},
        {"{\"id\":\"c/1\",\"dataset\":\"coyo100m\",\"image\":true,\"examples\":[{\"caption\":\"a\"},"
         "{\"caption\":\"b\"}]}",
         HB_EINVAL, {"[NO_PROMPT]", "exactly one example and one image", "sample 'c/1'"}},
        {"{\"id\":\"c/2\",\"dataset\":\"coyo100m\",\"image\":false,\"examples\":[{\"caption\":\"a\"}]}", HB_EINVAL,
         {"exactly one example and one image", "sample 'c/2'", "dataset 'coyo100m'"}},
        {"{\"id\":\"l/1\",\"dataset\":\"llava150k\",\"image\":true,\"conversations\":[{\"from\":\"human\",\"value\":"
         "\"no marker\"},{\"from\":\"gpt\",\"value\":\"a\"}]}",
         HB_EFORMAT, {"places 0 images but the sample has 1", "sample 'l/1'", "dataset 'llava150k'"}},
        {"{\"id\":\"l/2\",\"dataset\":\"llava150k\",\"image\":true,\"conversations\":[{\"from\":\"human\",\"value\":"
         "\"<image>\\nq <image>\"},{\"from\":\"gpt\",\"value\":\"a\"}]}",
         HB_EFORMAT, {"places 2 images but the sample has 1", "sample 'l/2'", "image_markers"}},
        {"{\"id\":\"s/1\",\"dataset\":\"sharegpt\",\"conversations\":[{\"from\":\"gpt\",\"value\":\"hi\"}]}",
         HB_EFORMAT, {"no turn after its opening assistant turn is dropped", "sample 's/1'", "dataset 'sharegpt'"}},
    };
    hb_arena a;
    hb_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hb_render_input in;
        hb_rendered r;
        hb_err e;
        cr_assert_eq(hb_render_input_from_json(cases[i].json, strlen(cases[i].json), &in, &a, &e), 0, "%s", e.reason);
        int code = hb_render(ts, &in, 1, &a, &r, &e);
        cr_assert_eq(code, cases[i].code, "case %zu: code %d (%s)", i, code, e.reason);
        for (int k = 0; k < 3; k++)
            cr_assert_not_null(strstr(e.reason, cases[i].expect[k]), "case %zu: '%s' lacks '%s'", i, e.reason,
                               cases[i].expect[k]);
    }
    /* the raw record of the failing example is the error's record */
    hb_render_input in;
    hb_rendered r;
    hb_err e;
    cr_assert_eq(hb_render_input_from_json(cases[1].json, strlen(cases[1].json), &in, &a, &e), 0);
    hb_render(ts, &in, 1, &a, &r, &e);
    cr_assert_eq(e.record, 17);
    /* a conversation turn with the system role */
    hb_turn conv[2] = {{HB_ROLE_SYSTEM, 1, "x"}, {HB_ROLE_AI, 1, "y"}};
    hb_render_input c = {.id = "c/9", .dataset = "llava150k", .n_images = 1, .n_conv = 2, .conv = conv};
    cr_assert_eq(hb_render(ts, &c, 1, &a, &r, &e), HB_EFORMAT);
    cr_assert_not_null(strstr(e.reason, "turn 0 has role 'system'"), "%s", e.reason);
    /* replayed choices that do not fit */
    const char *mc = "{\"id\":\"a/3\",\"dataset\":\"aokvqa\",\"image\":true,\"examples\":[{\"question\":\"q\","
                     "\"options\":[\"x\",\"y\"],\"answer_idx\":1}]}";
    cr_assert_eq(hb_render_input_from_json(mc, strlen(mc), &in, &a, &e), 0);
    static const char *const bad_choices[] = {
        "", "[]", "{\"pattern\":0}", "{\"template\":\"vqa\",\"pattern\":0}", "{\"template\":\"vqa-o\",\"pattern\":3}",
        "{\"template\":\"vqa-o\",\"pattern\":0}", "{\"template\":\"vqa-o\",\"pattern\":0,\"options\":[{\"order\":[0],"
        "\"index\":\"A.\"}]}",
        "{\"template\":\"vqa-o\",\"pattern\":0,\"options\":[{\"order\":[1,1],\"index\":\"A.\"}]}",
        "{\"template\":\"vqa-o\",\"pattern\":0,\"options\":[{\"order\":[1,0],\"index\":\"Z.\"}]}"};
    for (size_t i = 0; i < sizeof bad_choices / sizeof *bad_choices; i++) {
        int code = hb_render_replay(ts, &in, bad_choices[i], &a, &r, &e);
        cr_assert_neq(code, 0, "choices %zu accepted", i);
        cr_assert_not_null(strstr(e.reason, "sample 'a/3'"), "%zu: %s", i, e.reason);
    }
    hb_arena_free(&a);
    hb_template_free(ts);
}

Test(render, malformed_input_lines_are_rejected) {
    static const char *const bad[] = {
        "", "[]", "{\"id\":3,\"examples\":[{}]}", "{\"id\":\"\",\"examples\":[{\"q\":\"a\"}]}",
        "{\"id\":\"a\"}", "{\"id\":\"a\",\"examples\":[],\"image\":true}",
        "{\"id\":\"a\",\"examples\":[{\"q\":\"a\"}],\"conversations\":[{\"from\":\"human\",\"value\":\"x\"}]}",
        "{\"id\":\"a\",\"examples\":[{\"q\":3}]}", "{\"id\":\"a\",\"examples\":[\"q\"]}",
        "{\"id\":\"a\",\"examples\":[{\"q\":\"a\"}],\"image\":-1}", "{\"id\":\"a\",\"examples\":[{\"q\":\"a\"}],\"image\":{}}",
        "{\"id\":\"a\",\"examples\":[{\"options\":[\"x\"]}]}", "{\"id\":\"a\",\"examples\":[{\"answer_idx\":0}]}",
        "{\"id\":\"a\",\"examples\":[{\"options\":[\"x\",1],\"answer_idx\":0}]}",
        "{\"id\":\"a\",\"examples\":[{\"options\":[\"x\"],\"answer_idx\":0.5}]}",
        "{\"id\":\"a\",\"examples\":[{\"options\":[],\"answer_idx\":0}]}",
        "{\"id\":\"a\",\"conversations\":[{\"from\":\"system\",\"value\":\"x\"}]}",
        "{\"id\":\"a\",\"conversations\":[{\"from\":\"human\"}]}", "{\"id\":\"a\",\"conversations\":[]}",
        "{\"id\":\"a\",\"dataset\":4,\"examples\":[{\"q\":\"a\"}]}", "{\"id\":\"a\",\"examples\":[{\"q\":\"a\"}]",
    };
    hb_arena a;
    hb_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_render_input in;
        hb_err e;
        cr_assert_eq(hb_render_input_from_json(bad[i], strlen(bad[i]), &in, &a, &e), HB_EFORMAT, "case %zu: %s", i,
                     bad[i]);
        cr_assert_gt(strlen(e.reason), 5);
    }
    hb_render_input in;
    hb_err e;
    const char *sys = "{\"id\":\"a\",\"conversations\":[{\"from\":\"bing\",\"value\":\"x\"}]}";
    hb_render_input_from_json(sys, strlen(sys), &in, &a, &e);
    cr_assert_not_null(strstr(e.reason, "unknown role 'bing'"), "%s", e.reason);
    hb_arena_free(&a);
}

/* ---- determinism: calls, threads ---- */
#define N_DET 3000
typedef struct {
    const hb_template_set *ts;
    int start, step;
    uint64_t *hashes;
} det_job;

static uint64_t render_hash(const hb_template_set *ts, int i, hb_arena *a) {
    static const char *const ds[] = {"vqav2", "aokvqa", "refcoco", "sqa", "vsr", "gqa"};
    char json[600];
    snprintf(json, sizeof json,
             "{\"id\":\"s/%d\",\"dataset\":\"%s\",\"image\":true,\"examples\":[{\"question\":\"q%d\",\"answer\":"
             "\"a%d\",\"phrase\":\"p\",\"bbox\":\"b\",\"context\":\"c\",\"question_interro\":\"qi\",\"full_answer\":"
             "\"fa\"%s}]}",
             i, ds[i % 6], i, i,
             i % 6 == 1 || i % 6 == 3 ? ",\"options\":[\"w\",\"x\",\"y\",\"z\"],\"answer_idx\":3" : "");
    hb_render_input in;
    hb_rendered r;
    hb_err e;
    hb_arena_reset(a);
    if (hb_render_input_from_json(json, strlen(json), &in, a, &e) || hb_render(ts, &in, 77, a, &r, &e)) return 0;
    return hb_hash64(r.text, r.len, hb_hash_str(r.choices, 0));
}

static void *det_worker(void *arg) {
    det_job *j = arg;
    hb_arena a;
    hb_arena_init(&a, 0);
    for (int i = j->start; i < N_DET; i += j->step) j->hashes[i] = render_hash(j->ts, i, &a);
    hb_arena_free(&a);
    return NULL;
}

Test(render, identical_across_calls_and_threads) {
    hb_template_set *ts = load_set("templates/multi-flip.yaml");
    uint64_t *serial = calloc(N_DET, 8), *par = calloc(N_DET, 8);
    det_job one = {ts, 0, 1, serial};
    det_worker(&one);
    pthread_t th[4];
    det_job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (det_job){ts, t, 4, par};
        pthread_create(&th[t], NULL, det_worker, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < N_DET; i++) {
        cr_assert_neq(serial[i], 0, "sample %d failed to render", i);
        cr_assert_eq(serial[i], par[i], "sample %d differs between 1 and 4 threads", i);
    }
    det_worker(&one); /* again: the same */
    for (int i = 0; i < N_DET; i++) cr_assert_eq(serial[i], par[i]);
    free(serial);
    free(par);
    hb_template_free(ts);
}
