"""How a turn talks to its model, decided once before the first call.

Tool mode (native or text), the model's context window, the repo map and
the system prompt without it (for when the window is too small), and the
fitting of each request into that window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .messages import system_prompt
from .protocols import ContextBlock
from .toolmode import TEXT
from .toolmode.textcalls import text_tool_instructions
from .turn import TurnRequest
from .window.fit import FitReport, PromptTooLarge, fit_turn


@dataclass
class TurnPlan:
    mode: str  # native | text
    window: int | None
    context: ContextBlock
    specs: list[dict[str, Any]]
    system_without_map: str
    extra_system: str = ""
    map_in_prompt: bool = True
    critic: bool = True

    @classmethod
    def build(
        cls,
        req: TurnRequest,
        mode: str,
        window: int | None,
        context: ContextBlock,
        specs: list[dict[str, Any]],
    ) -> TurnPlan:
        extra_system = text_tool_instructions(specs) if mode == TEXT else ""
        return cls(
            mode=mode,
            window=window,
            context=context,
            specs=specs,
            system_without_map=system_prompt(req, ContextBlock(text=""), extra_system),
            extra_system=extra_system,
            map_in_prompt=bool(context.text),
        )

    def without_tools(self) -> TurnPlan:
        return replace(self, specs=[], critic=False)

    def fit(
        self, messages: list[dict[str, Any]], current: int
    ) -> tuple[list[dict[str, Any]], FitReport | None]:
        """What to send: oldest history dropped first, then the repo map; never cut silently."""
        if self.window is None:
            return messages, None
        fitted, report = fit_turn(messages, current, self.window)
        if report.over_by > 0 and self.map_in_prompt:
            # History alone was not enough: leave the repo map out (recorded in the trace).
            messages[0] = {"role": "system", "content": self.system_without_map}
            self.map_in_prompt = False
            fitted, report = fit_turn(messages, current, self.window)
        if report.over_by > 0:
            # Sending it anyway would be cut by the server (llama.cpp answers an empty
            # reply, Ollama truncates): say so instead.
            raise PromptTooLarge(report)
        return fitted, report
