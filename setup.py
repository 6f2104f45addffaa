"""Build: the synchronous quoting path compiled to C with mypyc, plain Python where it cannot be.

The modules ``ccxt_mm/compiled.py`` lists (book, quoting, order manager, paper venue, quoting
core, replay loop) are ordinary type-annotated Python; mypyc turns each into a C extension that
sits beside its ``.py`` and is imported in its place. They are the code every book update runs,
in replay and live alike. Without a C compiler, or if mypyc fails for any reason, the build
removes whatever it had made and the package installs as pure Python: same code, slower.
Set ``CCXT_MM_PURE_PYTHON=1`` to skip the compilation on purpose.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext


def compiled_sources() -> list[str]:
    """The source files of ``ccxt_mm.compiled.COMPILED``, read without importing the package."""
    tree = ast.parse((Path(__file__).parent / "ccxt_mm" / "compiled.py").read_text())
    names = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "COMPILED")
    return [name.replace(".", "/") + ".py" for name in ast.literal_eval(names)]


class OptionalBuildExt(build_ext):
    """Build the extensions; on any failure remove the partial outputs (a module's thin
    extension without its shared library would not import) and go on as pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a missing compiler raises CompileError, a linker error LinkError...
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            print(f"ccxt-mm: compiling the quoting path failed ({type(exc).__name__}: {exc}); installing pure Python", file=sys.stderr)


def extensions() -> list:
    if os.environ.get("CCXT_MM_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify

        return mypycify(compiled_sources(), opt_level="3", group_name="ccxt_mm", target_dir="build/mypyc")
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error
        print(f"ccxt-mm: mypyc unavailable or failed ({exc}); installing pure Python", file=sys.stderr)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
