"""Independent reader of TensorBoard event files, for the tests: TFRecord
framing checked with its own CRC-32C, events parsed with protobuf from the
public schema (io/proto/tensorboard.proto and hparams.proto, compiled by
protoc at run time; Debian packages no TensorBoard).

Usage: read_tensorboard.py PROTO_DIR EVENTS_DIR WORK_DIR
Prints one JSON object: {"scalars": {tag: {step: value}}, "images": {tag: [step, width, height, png_ok]},
"texts": {tag: [step, dtype, rank, markdown]}, "hparams": {"experiment": {"hparams": {name: type},
"metrics": [tag]}, "start": {name: value}, "end": [step, status]}}.
"""
import json
import os
import struct
import subprocess
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        assert masked(crc32c(data[at:at + 8])) == length_crc, "bad length CRC"
        payload = data[at + 12:at + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert masked(crc32c(payload)) == payload_crc, "bad data CRC"
        yield payload
        at += 16 + length


def main():
    proto_dir, events_dir, work = sys.argv[1:4]
    subprocess.run(["protoc", f"--python_out={work}", "-I", proto_dir, "tensorboard.proto", "hparams.proto"],
                   check=True)
    sys.path.insert(0, work)
    import hparams_pb2  # noqa: E402
    import tensorboard_pb2  # noqa: E402

    scalars, images, texts, hparams = {}, {}, {}, {}
    hp_types = {v.number: v.name for v in hparams_pb2.DataType.DESCRIPTOR.values}
    files = sorted(f for f in os.listdir(events_dir) if f.startswith("events.out.tfevents."))
    versions = 0
    for name in files:
        for payload in records(os.path.join(events_dir, name)):
            event = tensorboard_pb2.Event()
            event.ParseFromString(payload)
            if event.WhichOneof("what") == "file_version":
                versions += 1
                continue
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "text":
                    t = value.tensor
                    texts[value.tag] = [event.step, tensorboard_pb2.DataType.Name(t.dtype), len(t.tensor_shape.dim),
                                        t.string_val[0].decode()]
                elif plugin == "hparams":
                    data = hparams_pb2.HParamsPluginData()
                    data.ParseFromString(value.metadata.plugin_data.content)
                    assert data.version == 0
                    kind = data.WhichOneof("data")
                    if kind == "experiment":
                        hparams["experiment"] = {
                            "hparams": {h.name: hp_types[h.type] for h in data.experiment.hparam_infos},
                            "metrics": [m.name.tag for m in data.experiment.metric_infos]}
                    elif kind == "session_start_info":
                        hparams["start"] = {k: getattr(v, v.WhichOneof("kind"))
                                            for k, v in data.session_start_info.hparams.items()}
                    else:
                        hparams["end"] = [event.step, hparams_pb2.Status.Name(data.session_end_info.status)]
                elif value.WhichOneof("value") == "simple_value":
                    steps = scalars.setdefault(value.tag, {})
                    assert str(event.step) not in steps, f"step {event.step} of {value.tag} twice"
                    steps[str(event.step)] = value.simple_value
                else:
                    img = value.image
                    images[value.tag] = [event.step, img.width, img.height,
                                         img.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"]
    print(json.dumps({"files": len(files), "versions": versions, "scalars": scalars, "images": images,
                      "texts": texts, "hparams": hparams}))


main()
