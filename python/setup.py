"""Build of the spate Python package: the spate package and its extension
spate._native, linked with the static engine library (libspate.a, built
with position-independent code) of this checkout.

The library is looked up in $SPATE_BUILD_DIR, else ../build/release (the
checkout is $SPATE_SOURCE_DIR, else the folder above this one); when
it is missing there, it is built first with the release preset (cmake and
ninja, see scripts/deps).  Offline install, into a virtual environment that
sees Debian's setuptools:

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index ./python
"""
import os
import pathlib
import subprocess

from setuptools import Extension, setup

HERE = pathlib.Path(__file__).resolve().parent
ROOT = pathlib.Path(
    os.environ.get("SPATE_SOURCE_DIR", HERE.parent)).resolve()
# what libspate.a needs (CMakeLists.txt, spate_lib's link libraries);
# libcurl, libpq and libmariadb it loads itself when a flow uses them
DEPS = ["liburing", "ck", "libzstd", "yaml-0.1", "libpcre2-8", "sqlite3",
        "libxxhash", "libisal", "liblz4"]


def build_dir():
    d = os.environ.get("SPATE_BUILD_DIR")
    if d:
        return pathlib.Path(d).resolve()
    d = ROOT / "build" / "release"
    if not (d / "libspate.a").exists():
        if not (d / "build.ninja").exists():
            subprocess.check_call(["cmake", "--preset", "release"], cwd=ROOT)
        subprocess.check_call(["cmake", "--build", "--preset", "release",
                               "--target", "spate_lib"], cwd=ROOT)
    return d


def sanitizer_flags(d):
    """The library's sanitizer instrumentation must be linked in too."""
    cache = d / "CMakeCache.txt"
    text = cache.read_text() if cache.exists() else ""
    if "SPATE_SANITIZE:STRING=address" in text:
        return ["-fsanitize=address,undefined"]
    return []


def pkg_config(*args):
    out = subprocess.check_output(["pkg-config", *args, *DEPS], text=True)
    return out.split()


d = build_dir()
lib = d / "libspate.a"
if not lib.exists():
    raise SystemExit(f"spate: no {lib}; build the library first "
                     "(scripts/build release) or set SPATE_BUILD_DIR")
san = sanitizer_flags(d)

native = Extension(
    "spate._native",
    sources=[f"spate/native/{n}.c" for n in ("flow", "run", "catalog")],
    depends=["spate/native/native.h", str(lib),
             str(ROOT / "include/spate/spate.h"),
             str(ROOT / "include/spate/catalog.h")],
    include_dirs=[str(ROOT / "include")],
    extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers",
                        *pkg_config("--cflags"), *san],
    extra_objects=[str(lib)],
    extra_link_args=[*pkg_config("--libs"), "-lpthread", "-ldl",
                     "-lm", *san],
)

setup(
    name="spate",
    version="0.1.0",
    description="spate's flows, Python stages and stage catalog from Python",
    packages=["spate"],
    ext_modules=[native],
    python_requires=">=3.9",
)
