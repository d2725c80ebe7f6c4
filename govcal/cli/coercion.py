"""Typer's checking of option values, without pydantic where a value needs no checking.

Typer (0.29) checks every parameter of a command through a pydantic TypeAdapter it
builds on first use, for a value typed or not: `govcal plan` imported pydantic and
built seven adapters (a fifth of its start) to pass on `None`, `False` and a string.
Here a value that is already what the parameter wants (a string for a string, a flag's
bool, an unbounded int's default) is passed on as it is, which is what the adapter
returns for it; anything else (a number typed as text, a path, a bounded number) goes to
typer's own adapter, so conversions and error messages are typer's, unchanged. If typer
changes these internals, commands fall back to typer's way, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

try:  # typer's internals, pinned in requirements.lock
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
except ImportError:  # pragma: no cover - another typer: keep its own coercion
    RuntimeParam = None


def _plain(descriptor: Any) -> bool:
    """A str, bool or unbounded int parameter with no parser or file of its own."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return False
    if descriptor.annotation in (str, bool):
        return True
    bounded = any(getattr(info, name, None) is not None for name in ("min", "max"))
    return descriptor.annotation is int and not bounded and not getattr(info, "clamp", False)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _AsGiven(RuntimeParam):
        """A value of the wanted type as it is; typer's adapter for anything else."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation:
                return value
            return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)

    @dataclass(frozen=True)
    class _OnlyIfGiven(RuntimeParam):
        """Typer's adapter, built only when a value comes (None needs none)."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)


def lighten(command: Any, ctx: Any) -> None:
    """Give each parameter of `command` and its subcommands, their --help flags included,
    the checking above (a parameter typer has already given one keeps it)."""
    if RuntimeParam is None:
        return
    for sub in getattr(command, "commands", {}).values():
        lighten(sub, ctx)
    get_params = getattr(command, "get_params", None)
    for param in get_params(ctx) if get_params else []:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
            continue
        kind = _AsGiven if _plain(descriptor) else _OnlyIfGiven
        param._runtime_param = kind(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )
