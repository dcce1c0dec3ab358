#!/usr/bin/env python3
"""PyTorch checkpoint fixtures (torch.save's zip format, `pytorch_model*.bin`) for model/torchbin.c.

Writes tests/fixtures/torchbin/:
  dtypes.bin           a module's state_dict() (an OrderedDict with _metadata, so BUILD) of f32, f16, bf16, f64,
                       i64, i32, i16, i8, u8 and bool tensors, a 0-dim scalar and an empty tensor, written by torch.save
  dtypes_p4.bin        the same dict written with pickle_protocol=4 (STACK_GLOBAL, FRAME, MEMOIZE)
  dtypes.safetensors   the same tensors written by the safetensors package: the expected names, dtypes, shapes, bytes
  views.bin            tensors sharing storages: slices at offsets, a row, a tied pair, a transposed and a strided
                       (non-contiguous) view, an nn.Parameter (_rebuild_parameter), bf16 and f16
  views_zip64.bin      views.bin rewritten as a zip64 archive (every size and offset in zip64 extra fields, zip64
                       end record and locator, data still 64-byte aligned); zipfile and torch.load read it the same
  views.safetensors    the contiguous copies of views.bin's tensors
  honeybee/            tests/fixtures/model/a as HF 4.x save_pretrained(safe_serialization=False, max_shard_size=...)
                       writes it: pytorch_model-0000{1,2,3}-of-00003.bin + pytorch_model.bin.index.json + config.json
  hf_llama/            model/a/hf_llama (LlamaForCausalLM) the same way, 3 shards + index + config.json
  hf_clip_model/       model/a/hf_clip_model (CLIPModel) as one pytorch_model.bin + config.json
  bad/*.bin, bad.json  malformed and malicious checkpoints and the error each must give (code, words of the reason)

transformers 5 no longer writes .bin files, so save_pretrained(safe_serialization=False) of transformers 4.x is
replayed here: shard_checkpoint's greedy split in state_dict order, torch.save of one plain dict per shard, the index
{"metadata": {"total_size"}, "weight_map"}. Every directory is loaded back with transformers 5's from_pretrained
(which reads pytorch_model*.bin with torch.load(weights_only=True)) and compared with the safetensors original.
Usage: python3 tests/ref/gen_torchbin_fixtures.py
"""
import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import zipfile

import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests/fixtures/torchbin")
MODEL_A = os.path.join(ROOT, "tests/fixtures/model/a")


def check_same(a, b, what):
    assert set(a) == set(b), (what, set(a) ^ set(b))
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]), (what, k)


def reference(sd):
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


# ---- small state dicts ----
def dtypes_state():
    g = torch.Generator().manual_seed(1)
    m = torch.nn.Module()
    m.register_buffer("f32", torch.randn(3, 4, generator=g))
    m.register_buffer("f16", torch.randn(5, generator=g).half())
    m.register_buffer("bf16", torch.randn(2, 3, 2, generator=g).bfloat16())
    m.register_buffer("f64", torch.randn(4, generator=g).double())
    m.register_buffer("i64", torch.tensor([-(2 ** 40), -1, 0, 7], dtype=torch.int64))
    m.register_buffer("i32", torch.tensor([[-5, 6], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32))
    m.register_buffer("i16", torch.tensor([-300, 300], dtype=torch.int16))
    m.register_buffer("i8", torch.tensor([-128, 127, 0], dtype=torch.int8))
    m.register_buffer("u8", torch.tensor([0, 255, 17], dtype=torch.uint8))
    m.register_buffer("flags", torch.tensor([True, False, True]))
    m.register_buffer("scalar", torch.tensor(2.5))
    m.register_buffer("empty", torch.zeros(0, 3))
    sd = m.state_dict()
    assert isinstance(sd, collections.OrderedDict) and hasattr(sd, "_metadata")
    return sd


def views_state():
    g = torch.Generator().manual_seed(2)
    base = torch.randn(64, generator=g).bfloat16()
    mat = torch.randn(6, 5, generator=g).half()
    tied = torch.randn(4, 3, generator=g)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["slice"] = base[10:22].view(3, 4)  # offset 10
    sd["tail"] = base[60:]
    sd["mat"] = mat
    sd["row"] = mat[4]  # offset 20
    sd["mat_t"] = mat.t()  # non-contiguous
    sd["cols"] = mat[:, 1:3]  # non-contiguous, offset 1
    sd["every_other"] = base[1::2]  # stride 2
    sd["embed.weight"] = tied
    sd["lm_head.weight"] = tied  # the same tensor under two names
    sd["param"] = torch.nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3))  # _rebuild_parameter
    return sd


# ---- HF 4.x save_pretrained(safe_serialization=False) ----
def save_pretrained_bin(sd, d, max_shard_size):
    """transformers 4.38 modeling_utils.shard_checkpoint + the torch.save branch of save_pretrained."""
    os.makedirs(d, exist_ok=True)
    blocks, cur, cur_size, total = [], {}, 0, 0
    for k, v in sd.items():
        size = v.numel() * v.element_size()
        if cur and cur_size + size > max_shard_size:
            blocks.append(cur)
            cur, cur_size = {}, 0
        cur[k] = v.contiguous()
        cur_size += size
        total += size
    blocks.append(cur)
    if len(blocks) == 1:
        torch.save(blocks[0], os.path.join(d, "pytorch_model.bin"))
        return
    weight_map = {}
    for i, b in enumerate(blocks):
        fn = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(blocks))
        torch.save(b, os.path.join(d, fn))
        for k in b:
            weight_map[k] = fn
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


# ---- zip64 rewrite of a torch.save archive ----
def rewrite_zip64(src, dst):
    """Every entry stored with its sizes and offset in zip64 extra fields (local and central), zip64 end record and
    locator, each entry's data 64-byte aligned as torch writes it."""
    z = zipfile.ZipFile(src)
    out = bytearray()
    central = []
    for info in z.infolist():
        data = z.read(info.filename)
        name = info.filename.encode()
        off = len(out)
        zip64 = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        pad = (-(off + 30 + len(name) + len(zip64) + 4)) % 64
        extra = zip64 + struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding field like torch's writer
        crc = zipfile.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                           len(extra))
        out += name + extra
        assert len(out) % 64 == 0
        out += data
        cx = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                                   0xFFFFFFFF, len(name), len(cx), 0, 0, 0, 0, 0xFFFFFFFF) + name + cx)
    cd_off = len(out)
    for c in central:
        out += c
    cd_size = len(out) - cd_off
    e64 = len(out)
    n = len(central)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, e64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)
    assert zipfile.ZipFile(dst).namelist() == z.namelist()


# ---- hand-made archives (malformed and malicious) ----
class FakeStorage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class FakeTensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class Call:
    """Pickles as fn(*args) (a REDUCE of any global)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def write_archive(path, obj, storages, protocol=2, top="archive", byteorder=b"little", raw_pickle=None,
                  compress=False, patch=None):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=protocol).dump(obj)
    pk = raw_pickle if raw_pickle is not None else buf.getvalue()
    if patch:  # rewrite a GLOBAL's text (e.g. CPython names os.system "posix system"; exploits write "os system")
        assert patch[0] in pk
        pk = pk.replace(*patch)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr(top + "/data.pkl", pk)
        z.writestr(top + "/byteorder", byteorder)
        for k, data in storages.items():
            z.writestr(top + "/data/" + k, data)
        z.writestr(top + "/version", b"3\n")


def bad_fixtures(d):
    os.makedirs(d, exist_ok=True)
    f4 = struct.pack("<4f", 1, 2, 3, 4)
    fs = lambda n: FakeStorage(torch.FloatStorage, "0", n)  # noqa: E731
    ok = {"w": FakeTensor(fs(4), 0, [4], [1])}
    cases = {}

    def case(name, code, words, **kw):
        cases[name] = [code, words]
        write_archive(os.path.join(d, name), **kw)

    # the baseline is valid (and torch.load reads it); every other case breaks one thing
    case("ok.bin", "OK", "", obj=ok, storages={"0": f4})
    got = torch.load(os.path.join(d, "ok.bin"), weights_only=True)
    assert torch.equal(got["w"], torch.tensor([1.0, 2, 3, 4]))
    case("os_system.bin", "EFORMAT", "'os.system': refused",
         obj={"w": ok["w"], "x": Call(os.system, "echo owned")}, storages={"0": f4},
         patch=(b"c" + os.system.__module__.encode() + b"\nsystem\n", b"cos\nsystem\n"))
    case("eval_p4.bin", "EFORMAT", "'builtins.eval': refused", obj={"w": Call(eval, "1+1")}, storages={},
         protocol=4)
    case("model_class.bin", "EFORMAT", "'argparse.Namespace': refused",  # NEWOBJ + BUILD of a class
         obj={"w": ok["w"], "args": argparse.Namespace(lr=0.1)}, storages={"0": f4})
    case("missing_storage.bin", "EFORMAT", "not in the archive",
         obj={"w": FakeTensor(FakeStorage(torch.FloatStorage, "7", 4), 0, [4], [1])}, storages={"0": f4})
    case("past_storage.bin", "EFORMAT", "reach past its storage", obj={"w": FakeTensor(fs(4), 1, [2, 2], [2, 1])},
         storages={"0": f4})
    case("short_storage.bin", "EFORMAT", "should hold", obj={"w": FakeTensor(fs(8), 0, [8], [1])},
         storages={"0": f4})
    case("complex.bin", "EUNSUPPORTED", "torch.ComplexFloatStorage is not supported",
         obj={"w": FakeTensor(FakeStorage(torch.ComplexFloatStorage, "0", 2), 0, [2], [1])}, storages={"0": f4})
    case("dtype_as_storage.bin", "EUNSUPPORTED", "torch.float32 is not supported",
         obj={"w": FakeTensor(FakeStorage(torch.float32, "0", 4), 0, [4], [1])}, storages={"0": f4})
    case("two_dtypes.bin", "EFORMAT", "elsewhere as",
         obj={"w": ok["w"], "h": FakeTensor(FakeStorage(torch.HalfStorage, "0", 8), 0, [8], [1])},
         storages={"0": f4})
    case("not_tensor.bin", "EFORMAT", "not a tensor but a dict", obj={"model": {"w": ok["w"]}}, storages={"0": f4})
    case("list_root.bin", "EFORMAT", "not a state dict", obj=[ok["w"]], storages={"0": f4})
    case("big_endian.bin", "EUNSUPPORTED", "big-endian", obj=ok, storages={"0": f4}, byteorder=b"big")
    case("compressed.bin", "EUNSUPPORTED", "compressed", obj=ok, storages={"0": f4 * 64}, compress=True)
    deep = b"\x80\x02" + b"]" * 1200 + b"a" * 1199 + b"."
    case("deep.bin", "EFORMAT", "nested more than 1000", obj=None, storages={}, raw_pickle=deep)
    case("no_pickle.bin", "EFORMAT", "without <folder>/data.pkl", obj=ok, storages={"0": f4}, top="a/b")
    full = open(os.path.join(d, "ok.bin"), "rb").read()
    with open(os.path.join(d, "truncated.bin"), "wb") as f:
        f.write(full[: len(full) * 2 // 3])
    cases["truncated.bin"] = ["EFORMAT", "end of central directory"]
    torch.save({"w": torch.zeros(2)}, os.path.join(d, "legacy.bin"), _use_new_zipfile_serialization=False)
    cases["legacy.bin"] = ["EUNSUPPORTED", "legacy format"]
    torch.save({"e": torch.zeros(1).expand(100)}, os.path.join(d, "expanded.bin"))
    cases["expanded.bin"] = ["EFORMAT", "expanded"]
    for name in ("os_system.bin", "eval_p4.bin", "model_class.bin"):  # torch's own safe loader refuses them too
        try:
            torch.load(os.path.join(d, name), weights_only=True)
            raise AssertionError(name + " loaded")
        except pickle.UnpicklingError:
            pass
    with open(os.path.join(d, "bad.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    torch.manual_seed(0)

    sd = dtypes_state()
    torch.save(sd, os.path.join(OUT, "dtypes.bin"))
    torch.save(sd, os.path.join(OUT, "dtypes_p4.bin"), pickle_protocol=4)
    save_file(reference(sd), os.path.join(OUT, "dtypes.safetensors"))
    for fn in ("dtypes.bin", "dtypes_p4.bin"):  # (torch's weights_only loader cannot read protocol 4's FRAME)
        check_same(torch.load(os.path.join(OUT, fn), weights_only=fn == "dtypes.bin"), reference(sd), fn)

    sd = views_state()
    torch.save(sd, os.path.join(OUT, "views.bin"))
    save_file(reference(sd), os.path.join(OUT, "views.safetensors"))
    rewrite_zip64(os.path.join(OUT, "views.bin"), os.path.join(OUT, "views_zip64.bin"))
    for fn in ("views.bin", "views_zip64.bin"):
        got = torch.load(os.path.join(OUT, fn), weights_only=True)
        check_same({k: v.contiguous() for k, v in got.items()}, reference(sd), fn)
        assert not got["mat_t"].is_contiguous() and got["row"].storage_offset() == 20

    # Honeybee model/a: the checkpoint Honeybee's train.py would have written (plain dict shards of f32 tensors)
    hb = load_file(os.path.join(MODEL_A, "model.safetensors"))
    d = os.path.join(OUT, "honeybee")
    save_pretrained_bin(hb, d, 80_000)
    shutil.copy(os.path.join(MODEL_A, "config.json"), d)
    idx = json.load(open(os.path.join(d, "pytorch_model.bin.index.json")))
    got = {}
    for fn in sorted(set(idx["weight_map"].values())):
        got.update(torch.load(os.path.join(d, fn), weights_only=True))
    check_same(got, hb, "honeybee")

    from transformers import CLIPModel, LlamaForCausalLM

    for sub, cls, shard in (("hf_llama", LlamaForCausalLM, 40_000), ("hf_clip_model", CLIPModel, 10 ** 9)):
        m = cls.from_pretrained(os.path.join(MODEL_A, sub))
        sd = m.state_dict()
        d = os.path.join(OUT, sub)
        save_pretrained_bin(sd, d, shard)
        shutil.copy(os.path.join(MODEL_A, sub, "config.json"), d)
        back = cls.from_pretrained(d).state_dict()  # transformers 5 reads the .bin files
        check_same(back, reference(sd), sub)
        st = {}
        for fn in os.listdir(os.path.join(MODEL_A, sub)):
            if fn.endswith(".safetensors"):
                st.update(load_file(os.path.join(MODEL_A, sub, fn)))
        for k, v in st.items():  # the .bin holds the safetensors' tensors exactly (plus buffers hb ignores)
            assert torch.equal(sd[k], v), (sub, k)

    bad_fixtures(os.path.join(OUT, "bad"))
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes)" % (OUT, total))


if __name__ == "__main__":
    main()
