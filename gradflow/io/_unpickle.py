"""A restricted pickle interpreter: builds data, resolves globals from an allow-list, runs no code.

Python's :mod:`pickle` turns any ``GLOBAL`` opcode into an import and any ``REDUCE`` into a call,
so a pickle can run arbitrary code. This module interprets the opcodes itself (protocols 0 to 5)
and never imports, calls or looks up anything the pickle names: a global is resolved by the
caller's ``lookup`` (an allow-list that raises :class:`Refused` for anything else), a call is only
possible on a :class:`Global` the allow-list handed out, ``BUILD`` only sets attributes on an
``OrderedDict`` or completes a :class:`Pending` record that an allowed global began (with the
caller's code), and extension-registry codes and out-of-band buffers are refused. Every length
is checked against the bytes that are there before anything is allocated, so a truncated or
corrupt pickle raises :class:`UnpickleError` rather than a ``MemoryError`` or a hang.

The opcode semantics follow the documented pickle format (``Lib/pickletools.py`` describes every
opcode); this is an independent implementation. The errors it raises and the values it hands out
(and takes from ``lookup``) are in :mod:`gradflow.io._unpickle_types`.
"""

from __future__ import annotations

import codecs
import struct
from collections import OrderedDict

from ._unpickle_types import UNSET, Global, Pending, Refused, UnpickleError, describe, show

__all__ = ["unpickle"]


def unpickle(data, pos: int, end: int, *, lookup, persistent_load):
    """Interpret one pickle from ``data[pos:end]`` (bytes or an mmap) up to its STOP opcode.

    Parameters
    ----------
    data : bytes or mmap.mmap
        The buffer; only ``data[pos:end]`` is read.
    pos, end : int
        Where the pickle starts and where the buffer's usable part ends.
    lookup : callable
        ``lookup(module, name)`` returns a :class:`Global` or :class:`Token`, or raises
        :class:`Refused`.
    persistent_load : callable
        ``persistent_load(pid)`` for ``PERSID``/``BINPERSID``.

    Returns
    -------
    obj, int
        The object and the position just past the STOP opcode.

    Raises
    ------
    UnpickleError
        Corrupt or truncated data, or (as :class:`Refused`) anything outside the allow-list.
    """
    try:
        return _Machine(data, pos, end, lookup, persistent_load).run()
    except UnpickleError:
        raise
    except RecursionError:  # pragma: no cover - nothing here recurses
        raise UnpickleError("corrupt pickle (nesting too deep)") from None
    except (
        ArithmeticError,
        AttributeError,
        LookupError,
        TypeError,
        ValueError,
        struct.error,
    ) as exc:
        raise UnpickleError(f"corrupt pickle ({type(exc).__name__}: {show(exc)})") from None


class _Machine:
    def __init__(self, data, pos, end, lookup, persistent_load):
        self.data, self.pos, self.end = data, pos, end
        self.lookup, self.persistent_load = lookup, persistent_load
        self.stack: list = []
        self.marks: list[list] = []
        self.memo: dict = {}

    # -- reading ---------------------------------------------------------------------------
    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise UnpickleError(f"truncated pickle (needs {n} bytes at byte {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def line(self) -> bytes:
        stop = self.data.find(b"\n", self.pos, self.end)
        if stop < 0:
            raise UnpickleError(f"truncated pickle (no end of line after byte {self.pos})")
        chunk = self.data[self.pos : stop]
        self.pos = stop + 1
        return chunk

    def pop_mark(self) -> list:
        if not self.marks:
            raise UnpickleError("corrupt pickle (no MARK on the stack)")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def pop(self):
        if not self.stack:
            raise UnpickleError("corrupt pickle (stack underflow)")
        return self.stack.pop()

    # -- operations that touch the allow-list ----------------------------------------------
    def call(self, func, args):
        if not isinstance(func, Global):
            raise Refused(f"refused to call {show(describe(func))} (only allowed globals)")
        if not isinstance(args, tuple):
            raise UnpickleError(f"corrupt pickle (arguments of {func.qualname} are not a tuple)")
        return func.call(*args)

    def build(self, inst, state):
        """``BUILD``: what takes the instance's place on the stack."""
        if isinstance(inst, Pending):
            if inst.value is not UNSET:
                raise Refused(f"refused to set the state of {show(describe(inst))} twice")
            inst.value = inst.finish(state)
            return inst.value
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if type(inst) is not OrderedDict or slots is not None or not isinstance(state, dict):
            raise Refused(f"refused to set the state of {show(describe(inst))}")
        for key, value in state.items():
            if not (isinstance(key, str) and key.isidentifier() and not key.startswith("__")):
                raise Refused(f"refused to set the attribute {show(key)!r} of an OrderedDict")
            inst.__dict__[key] = value
        return inst

    def get(self, key):
        """A memo entry; a finished :class:`Pending` record reads as its value."""
        value = self.memo[key]
        if isinstance(value, Pending) and value.value is not UNSET:
            return value.value
        return value

    # -- the loop --------------------------------------------------------------------------
    def run(self):
        stack, memo, take, unpack, get = self.stack, self.memo, self.take, self.unpack, self.get
        while True:
            at = self.pos
            op = take(1)[0]
            stack = self.stack
            if op == 0x71:  # BINPUT
                memo[take(1)[0]] = stack[-1]
            elif op == 0x68:  # BINGET
                stack.append(get(take(1)[0]))
            elif op == 0x58:  # BINUNICODE
                stack.append(str(take(unpack("<I")), "utf-8", "surrogatepass"))
            elif op == 0x4B:  # BININT1
                stack.append(take(1)[0])
            elif op == 0x4D:  # BININT2
                stack.append(unpack("<H"))
            elif op == 0x4A:  # BININT
                stack.append(unpack("<i"))
            elif op == 0x28:  # MARK
                self.marks.append(stack)
                self.stack = []
            elif op == 0x74:  # TUPLE
                items = self.pop_mark()
                self.stack.append(tuple(items))
            elif op in (0x85, 0x86, 0x87):  # TUPLE1, TUPLE2, TUPLE3
                n = op - 0x84
                if len(stack) < n:
                    raise UnpickleError("corrupt pickle (stack underflow)")
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op in (0x52, 0x81):  # REDUCE, NEWOBJ
                args = self.pop()
                stack.append(self.call(self.pop(), args))
            elif op == 0x92:  # NEWOBJ_EX
                kwargs, args = self.pop(), self.pop()
                if kwargs:
                    raise Refused("refused keyword arguments in NEWOBJ_EX")
                stack.append(self.call(self.pop(), args))
            elif op == 0x51:  # BINPERSID
                stack.append(self.persistent_load(self.pop()))
            elif op == 0x50:  # PERSID
                stack.append(self.persistent_load(self.line().decode("ascii")))
            elif op in (0x63, 0x69):  # GLOBAL, INST
                module = self.line().decode("utf-8")
                glob = self.lookup(module, self.line().decode("utf-8"))
                if op == 0x69:
                    glob = self.call(glob, tuple(self.pop_mark()))
                self.stack.append(glob)
            elif op == 0x93:  # STACK_GLOBAL
                name, module = self.pop(), self.pop()
                if not (isinstance(module, str) and isinstance(name, str)):
                    raise UnpickleError("corrupt pickle (STACK_GLOBAL needs two strings)")
                stack.append(self.lookup(module, name))
            elif op == 0x6F:  # OBJ
                items = self.pop_mark()
                if not items:
                    raise UnpickleError("corrupt pickle (OBJ without a class)")
                self.stack.append(self.call(items[0], tuple(items[1:])))
            elif op == 0x62:  # BUILD
                state = self.pop()
                if not stack:
                    raise UnpickleError("corrupt pickle (stack underflow)")
                stack[-1] = self.build(stack[-1], state)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif op in (0x75, 0x73):  # SETITEMS, SETITEM
                items = self.pop_mark() if op == 0x75 else [self.pop(), self.pop()][::-1]
                target = self.stack[-1] if self.stack else None
                if not isinstance(target, dict) or len(items) % 2:
                    raise UnpickleError("corrupt pickle (SETITEM(S) needs a dict and pairs)")
                for i in range(0, len(items), 2):
                    target[items[i]] = items[i + 1]
            elif op in (0x65, 0x61):  # APPENDS, APPEND
                items = self.pop_mark() if op == 0x65 else [self.pop()]
                target = self.stack[-1] if self.stack else None
                if not isinstance(target, list):
                    raise UnpickleError("corrupt pickle (APPEND(S) needs a list)")
                target.extend(items)
            elif op == 0x90:  # ADDITEMS
                items = self.pop_mark()
                target = self.stack[-1] if self.stack else None
                if not isinstance(target, set):
                    raise UnpickleError("corrupt pickle (ADDITEMS needs a set)")
                target.update(items)
            elif op == 0x91:  # FROZENSET
                items = frozenset(self.pop_mark())
                self.stack.append(items)
            elif op == 0x6C:  # LIST
                items = self.pop_mark()
                self.stack.append(items)
            elif op == 0x64:  # DICT
                items = self.pop_mark()
                if len(items) % 2:
                    raise UnpickleError("corrupt pickle (DICT needs pairs)")
                self.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})
            elif op == 0x72:  # LONG_BINPUT
                memo[unpack("<I")] = stack[-1]
            elif op == 0x6A:  # LONG_BINGET
                stack.append(get(unpack("<I")))
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = stack[-1]
            elif op == 0x70:  # PUT
                memo[int(self.line())] = stack[-1]
            elif op == 0x67:  # GET
                stack.append(get(int(self.line())))
            elif op == 0x8C:  # SHORT_BINUNICODE
                stack.append(str(take(take(1)[0]), "utf-8", "surrogatepass"))
            elif op == 0x8D:  # BINUNICODE8
                stack.append(str(take(unpack("<Q")), "utf-8", "surrogatepass"))
            elif op == 0x56:  # UNICODE
                stack.append(str(self.line(), "raw-unicode-escape"))
            elif op in (0x55, 0x54, 0x53):  # SHORT_BINSTRING, BINSTRING, STRING (Python 2 str)
                if op == 0x53:
                    raw = self.line().rstrip()
                    if len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
                        raise UnpickleError("corrupt pickle (badly quoted STRING)")
                    raw = codecs.escape_decode(raw[1:-1])[0]
                else:
                    raw = take(take(1)[0] if op == 0x55 else unpack("<i"))
                stack.append(raw.decode("utf-8"))  # as torch.load: encoding="utf-8"
            elif op in (0x43, 0x42, 0x8E):  # SHORT_BINBYTES, BINBYTES, BINBYTES8
                n = take(1)[0] if op == 0x43 else unpack("<I" if op == 0x42 else "<Q")
                stack.append(bytes(take(n)))
            elif op == 0x96:  # BYTEARRAY8
                stack.append(bytearray(take(unpack("<Q"))))
            elif op == 0x8A:  # LONG1
                stack.append(int.from_bytes(take(take(1)[0]), "little", signed=True))
            elif op == 0x8B:  # LONG4
                stack.append(int.from_bytes(take(unpack("<i")), "little", signed=True))
            elif op == 0x47:  # BINFLOAT
                stack.append(unpack(">d"))
            elif op == 0x46:  # FLOAT
                stack.append(float(self.line()))
            elif op == 0x49:  # INT (protocol 0 spells bools as 00 and 01)
                raw = self.line()
                stack.append(False if raw == b"00" else True if raw == b"01" else int(raw))
            elif op == 0x4C:  # LONG
                stack.append(int(self.line().rstrip(b"L")))
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    self.pop_mark()
            elif op == 0x31:  # POP_MARK
                self.pop_mark()
            elif op == 0x32:  # DUP
                stack.append(stack[-1])
            elif op == 0x80:  # PROTO
                if take(1)[0] > 5:
                    raise UnpickleError(f"unsupported pickle protocol at byte {at}")
            elif op == 0x95:  # FRAME: a length prefix, the opcodes follow inline
                unpack("<Q")
            elif op == 0x2E:  # STOP
                if len(stack) != 1 or self.marks:
                    raise UnpickleError("corrupt pickle (STOP with a malformed stack)")
                return stack[0], self.pos
            elif op in (0x82, 0x83, 0x84):  # EXT1, EXT2, EXT4
                raise Refused("refused a pickle extension-registry reference (it names code)")
            elif op in (0x97, 0x98):  # NEXT_BUFFER, READONLY_BUFFER
                raise Refused("refused a pickle out-of-band buffer")
            else:
                raise UnpickleError(f"corrupt pickle (unknown opcode 0x{op:02x} at byte {at})")
