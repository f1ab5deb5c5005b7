"""Crafted inputs for test_faults.sh: files that look right and are not.

  craft.py checkpoint SRC DST ARRAY INDEX VALUE
      SRC with ARRAY.flat[INDEX] = VALUE and the checksum recomputed as
      io/checkpoint.cpp computes it (zlib CRC-32 of each name and data block,
      in name order), so that only the values can tell it apart.
  craft.py network SRC DST KIND
      KIND absent_edge: a weight where recurrent_connectivity has no edge;
      KIND cell_types: one excitatory neuron relabelled inhibitory.
  craft.py bomb DST N
      a network_structure.npz whose recurrent_weights inflates to 1 GiB
      (a ~1 MB file); N is the config's num_neurons.
  craft.py inputs DST KIND M
      KIND two / half / zero_trials / zero_steps: input spikes [2, 50, M].
"""
import sys
import zipfile
import zlib

import numpy as np


def save_npz(path, arrays):
    np.savez(path, **arrays)
    if not path.endswith(".npz"):  # np.savez appends .npz otherwise
        raise SystemExit("path must end with .npz")


def checkpoint(src, dst, name, index, value):
    with np.load(src) as f:
        arrays = {k: f[k].copy() for k in f.files}
    a = arrays[name]
    a.flat[int(index)] = a.dtype.type(float(value) if a.dtype.kind == "f" else int(value))
    crc = 0
    for key in sorted(k for k in arrays if k != "checksum"):
        crc = zlib.crc32(key.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(arrays[key]).tobytes(), crc)
    arrays["checksum"] = np.array([crc], dtype="<u4")
    save_npz(dst, arrays)


def network(src, dst, kind):
    with np.load(src) as f:
        arrays = {k: f[k].copy() for k in f.files}
    if kind == "absent_edge":
        c = arrays["recurrent_connectivity"]
        pre, post = np.argwhere(~c)[1]  # [0, 0] is the self-loop; the next absent edge
        arrays["recurrent_weights"][pre, post] = 0.5
        print(f"{pre} {post}")
    elif kind == "cell_types":
        t = arrays["cell_type_indices"]
        t[np.argmax(t == 0)] = 1
    save_npz(dst, arrays)


def bomb(dst, n):
    n = int(n)
    size = 1 << 30
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, "<f4"))
    header["shape"] = (size // 4,)
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("recurrent_weights.npy", "w", force_zip64=True) as m:
            m.write(buf.getvalue())
            zeros = bytes(1 << 22)
            for _ in range(size // len(zeros)):
                m.write(zeros)
        for name, shape, dtype in (("feedforward_weights", (20, n), "<f4"),
                                   ("recurrent_connectivity", (n, n), "|b1")):
            b = io.BytesIO()
            np.save(b, np.zeros(shape, dtype))
            z.writestr(name + ".npy", b.getvalue())


def inputs(dst, kind, m):
    m = int(m)
    x = np.zeros((2, 50, m), dtype=np.uint8)
    if kind == "two":
        x[1, 7, 3] = 2
    elif kind == "half":
        x = x.astype(np.float64)
        x[0, 4, 5] = 0.5
    elif kind == "zero_trials":
        x = np.zeros((0, 50, m), dtype=np.bool_)
    elif kind == "zero_steps":
        x = np.zeros((2, 0, m), dtype=np.bool_)
    np.save(dst, x)


if __name__ == "__main__":
    {"checkpoint": checkpoint, "network": network, "bomb": bomb, "inputs": inputs}[sys.argv[1]](*sys.argv[2:])
