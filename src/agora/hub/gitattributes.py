"""The Hub's default .gitattributes for a new repo's initial commit (docs/wire.md §12)."""

from __future__ import annotations

_COMMON = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* {extra}*.mlmodel *.model *.msgpack "
    "*.npy *.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* "
    "*.tar.* *.tar *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
)
_MEDIA = """# Audio files - uncompressed
*.pcm *.sam *.raw
# Audio files - compressed
*.aac *.flac *.mp3 *.ogg *.wav
# Image files - uncompressed
*.bmp *.gif *.png *.tiff
# Image files - compressed
*.jpg *.jpeg *.webp
# Video files - compressed
*.mp4 *.webm"""


def _lines(patterns: str) -> list[str]:
    return [f"{p} filter=lfs diff=lfs merge=lfs -text" for p in patterns.split()]


def default_gitattributes(repo_type: str) -> bytes:
    if repo_type == "dataset":
        lines = _lines(_COMMON.format(extra="*.lz4 *.mds "))
        for line in _MEDIA.splitlines():
            lines += [line] if line.startswith("#") else _lines(line)
    else:
        lines = _lines(_COMMON.format(extra=""))
    return ("\n".join(lines) + "\n").encode()
