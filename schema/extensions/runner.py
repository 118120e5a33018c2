"""Strawberry's extension runner, with what a hook is decided once per extension class.

For every request and each of its four phases (operation, parsing, validation, executing),
Strawberry's runner builds a context manager per phase: it looks each extension's hook up, wraps
a generator hook with `contextlib.contextmanager` (a `functools.wraps` copy every time) and
enters the hooks on an AsyncExitStack, even for a phase no extension hooks. With this schema's
three extensions that machinery cost an executed Portfolio of 20 about 150,000 of its 5.8
million instructions (docs/benchmarks.md, "Optimisation steps"). What a hook is does not change
between requests, so it is decided here once per extension class and hook: a phase no extension
hooks enters nothing; a phase whose hooks are all generator functions (every hook in
schema/extensions/) enters them as Strawberry does, through `contextmanager`, made once per
class instead of once per request: one hook directly, several on an ExitStack (the order, and
what an exception does on the way in or out, are contextlib's; as with Strawberry's, what the
phase raised goes on even when a hook swallows it). A phase with any other kind of hook (a
coroutine, an async generator, a plain function) is left to Strawberry's own context manager,
unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import TracebackType

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# A hook's context manager factory, called with the extension.
Enter = Callable[[SchemaExtension], AbstractContextManager[None]]
# None: the class does not hook the phase; STRAWBERRY: a hook this module leaves to Strawberry.
_Found = Enter | None | object
STRAWBERRY = object()
_UNKNOWN = object()
_KNOWN: dict[tuple[type[SchemaExtension], str], _Found] = {}


def hook_of(cls: type[SchemaExtension], name: str) -> _Found:
    """How an extension class hooks the phase named `name` (decided once per class)."""
    found = _KNOWN.get((cls, name), _UNKNOWN)
    if found is _UNKNOWN:
        function = getattr(cls, name)
        if function is getattr(SchemaExtension, name):
            found = None
        elif inspect.isgeneratorfunction(function):
            found = contextmanager(function)
        else:
            found = STRAWBERRY
        _KNOWN[(cls, name)] = found
    return found


class _Phase:
    """A phase's hooks, entered as Strawberry enters its own: `async with` when the schema
    executes, `with` when it executes synchronously. With no hooks, nothing is entered."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, traceback)


# A phase no extension hooks (shared: it keeps no state).
_NOTHING = _Phase()


class _One(_Phase):
    """One generator hook: its context manager's own enter and exit."""

    __slots__ = ("_manager",)

    def __init__(self, manager: AbstractContextManager[object]) -> None:
        self._manager = manager

    def __enter__(self) -> None:
        self._manager.__enter__()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._manager.__exit__(kind, error, traceback)


class _Several(_One):
    """Several generator hooks, entered in order on an ExitStack, as Strawberry's stack: the
    stack is the one manager left on exit, which leaves them in reverse."""

    __slots__ = ("_managers", "_stack")

    def __init__(self, managers: list[AbstractContextManager[None]]) -> None:
        # _One's state set here, not by its __init__: a call less per request and phase. The
        # stack is kept twice: as `_manager` for _One's exit, and as `_stack`, typed as the
        # ExitStack whose enter_context __enter__ calls.
        self._manager = self._stack = ExitStack()
        self._managers = managers

    def __enter__(self) -> None:
        for manager in self._managers:
            self._stack.enter_context(manager)


Phase = _Phase | ExtensionContextManagerBase


class HookRunner(SchemaExtensionsRunner):
    def operation(self) -> Phase:  # type: ignore[override]
        return self._phase(OperationContextManager)

    def parsing(self) -> Phase:  # type: ignore[override]
        return self._phase(ParsingContextManager)

    def validation(self) -> Phase:  # type: ignore[override]
        return self._phase(ValidationContextManager)

    def executing(self) -> Phase:  # type: ignore[override]
        return self._phase(ExecutingContextManager)

    def _phase(self, theirs: type[ExtensionContextManagerBase]) -> Phase:
        """The phase's hooks; Strawberry's own context manager (`theirs`) if one of them is
        not a generator function."""
        name = theirs.HOOK_NAME
        managers: list[AbstractContextManager[None]] = []
        for extension in self.extensions:
            found = hook_of(type(extension), name)
            if found is None:
                continue
            if found is STRAWBERRY:
                return theirs(self.extensions)
            enter: Enter = found  # type: ignore[assignment]
            managers.append(enter(extension))
        if not managers:
            return _NOTHING
        return _One(managers[0]) if len(managers) == 1 else _Several(managers)
