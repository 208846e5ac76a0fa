"""Convert a GGUF model into a Hugging Face folder that vLLM can serve.

vLLM has no GGUF loader for these small models, so the packaged GGUF is dequantised once. This
module imports nothing from the app: it runs inside vLLM's own virtualenv (whose pins differ from
the app's) as `python -m services.launcher.gguf_to_hf GGUF OUT_DIR`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path


def convert(gguf: Path, out_dir: Path) -> Path:
    if (out_dir / "config.json").exists():
        return out_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(gguf_file=name, dequantize=True)
    )
    # The weights are plain floats now; a leftover GGUF quantization entry makes vLLM look for
    # a GGUF file in the folder.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: an interrupted conversion never looks finished.
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m services.launcher.gguf_to_hf MODEL.gguf OUT_DIR")
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
