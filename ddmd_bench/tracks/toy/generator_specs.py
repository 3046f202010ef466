"""Names and options of the toy track's generators (`toy-teacher/euler-8/cfg3`, `teacher:steps=8,guidance=3`),
apart from the generators themselves so that listing and parsing names loads no model backend."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ToyGeneratorSpec:
    """Which shipped toy model to sample, and how."""

    model: str = "teacher"
    steps: int = 50
    guidance: float = 1.0  # 1.0 = no classifier-free guidance (a single conditional pass per step)
    scheduler: str = "flow-euler"
    compile: bool = False  # torch.compile the transformer (recorded; the name gets a '+compile' suffix)

    @property
    def name(self) -> str:
        """Short display name, e.g. 'toy-teacher/euler-50/cfg3'."""
        cfg = "nocfg" if self.guidance == 1.0 else f"cfg{self.guidance:g}"
        name = f"toy-{self.model}/{self.scheduler.removeprefix('flow-')}-{self.steps}/{cfg}"
        return name + ("+compile" if self.compile else "")

    @classmethod
    def parse(cls, text: str, defaults: dict[str, Any] | None = None) -> ToyGeneratorSpec:
        """Inverse of `name`: 'toy-teacher/euler-8/cfg3' or 'teacher:steps=8,guidance=3'; `defaults` (per model,
        e.g. a student's own sampler) fill the options that `text` leaves out."""
        m = re.fullmatch(r"toy-(\w[\w-]*)/(\w+)-(\d+)/(nocfg|cfg[\d.]+)(\+compile)?", text)
        if m:
            guidance = "1" if m[4] == "nocfg" else m[4][3:]
            return cls(m[1], _option(text, "steps", m[3]), _option(text, "guidance", guidance), f"flow-{m[2]}",
                       bool(m[5]))
        model, _, opts = text.partition(":")
        kwargs: dict[str, Any] = dict((defaults or {}).get(model.removeprefix("toy-"), {}))
        for item in filter(None, opts.split(",")):
            key, sep, value = item.partition("=")
            if key not in OPTION_HELP:
                raise ValueError(f"unknown toy generator option {key!r} in {text!r} "
                                 f"(steps, guidance, scheduler, compile)")
            if not sep or not value:
                raise ValueError(f"{text!r}: option {key!r} has no value; write {key}=<{OPTION_HELP[key]}>")
            kwargs[key] = _option(text, key, value)
        return cls(model.removeprefix("toy-"), **kwargs)


# What each option of a toy spec takes (shown when a value is refused).
OPTION_HELP = {"steps": "an integer >= 1", "guidance": "a finite number >= 0 (1 = no CFG)",
               "scheduler": "a toy scheduler name, e.g. flow-euler", "compile": "1 or 0"}


def _option(text: str, key: str, value: str) -> Any:
    """One option's value, or an error naming the spec, the option and what it takes."""
    try:
        if key == "steps":
            parsed: Any = int(value)
            ok = parsed >= 1
        elif key == "guidance":
            parsed = float(value)
            ok = math.isfinite(parsed) and parsed >= 0  # NaN would make `guidance == 1.0` false: CFG with NaN
        elif key == "compile":
            parsed, ok = value.lower() in ("1", "true", "yes"), value.lower() in ("1", "0", "true", "false", "yes", "no")
        else:
            parsed, ok = value, True
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{text!r}: {key}={value} is not valid; {key} takes {OPTION_HELP[key]}")
    return parsed
