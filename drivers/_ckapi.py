"""Direct calls into a PKCS#11 module's function list, for what python-pkcs11 gets wrong.

python-pkcs11 0.10.1 logs in inside ``Token.open``: when ``C_Login`` fails, the session
it just opened is never closed, and the next ``open(user_pin=...)`` fails with
``UserAlreadyLoggedIn`` on some modules. So signsvc opens the session through
python-pkcs11 and calls ``C_Login``/``C_GetSessionInfo`` itself, on the same session
handle, through the module's own ``CK_FUNCTION_LIST`` (PKCS#11 v2.40 §5.1, §5.6).

``dlopen`` of an already-loaded path returns the same library instance, so these calls
share python-pkcs11's initialised module state. Callers hold the module lock.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Any

CK_ULONG = ctypes.c_ulong
CK_RV = CK_ULONG

# PKCS#11 v2.40 §3.3: user types.
CKU_SO = 0
CKU_USER = 1
CKU_CONTEXT_SPECIFIC = 2

# PKCS#11 v3.0 §5.5 (C_WaitForSlotEvent): return at once instead of blocking.
CKF_DONT_BLOCK = 1

# PKCS#11 v2.40 §5.6: session states returned by C_GetSessionInfo.
CKS_RO_USER_FUNCTIONS = 1
CKS_RW_USER_FUNCTIONS = 3
CKS_RW_SO_FUNCTIONS = 4

# The function list, in the order of PKCS#11 v2.40 pkcs11f.h. Only the pointers are
# needed; each is typed at call time.
_FUNCTIONS = (
    "C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo "
    "C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN "
    "C_OpenSession C_CloseSession C_CloseAllSessions C_GetSessionInfo C_GetOperationState "
    "C_SetOperationState C_Login C_Logout C_CreateObject C_CopyObject C_DestroyObject "
    "C_GetObjectSize C_GetAttributeValue C_SetAttributeValue C_FindObjectsInit C_FindObjects "
    "C_FindObjectsFinal C_EncryptInit C_Encrypt C_EncryptUpdate C_EncryptFinal C_DecryptInit "
    "C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit C_Digest C_DigestUpdate "
    "C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal C_SignRecoverInit "
    "C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate C_VerifyFinal C_VerifyRecoverInit "
    "C_VerifyRecover C_DigestEncryptUpdate C_DecryptDigestUpdate C_SignEncryptUpdate "
    "C_DecryptVerifyUpdate C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey C_DeriveKey "
    "C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction C_WaitForSlotEvent"
).split()

# Cryptoki structures are packed to 1 byte on Windows, natural alignment elsewhere
# (PKCS#11 v2.40 §2.1 "Structure packing").
_PACK = 1 if sys.platform == "win32" else 0


class _Version(ctypes.Structure):
    _pack_ = _PACK
    _fields_ = (("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte))


class _FunctionList(ctypes.Structure):
    _pack_ = _PACK
    _fields_ = (("version", _Version), *((name, ctypes.c_void_p) for name in _FUNCTIONS))


class _SessionInfo(ctypes.Structure):
    _pack_ = _PACK
    _fields_ = (
        ("slotID", CK_ULONG),
        ("state", CK_ULONG),
        ("flags", CK_ULONG),
        ("ulDeviceError", CK_ULONG),
    )


class FunctionList:
    """The ``CK_FUNCTION_LIST`` of one loaded module."""

    def __init__(self, path: Path) -> None:
        self._lib = ctypes.CDLL(str(path))
        get_list = self._lib.C_GetFunctionList
        get_list.restype = CK_RV
        get_list.argtypes = (ctypes.POINTER(ctypes.POINTER(_FunctionList)),)
        pointer = ctypes.POINTER(_FunctionList)()
        rv = get_list(ctypes.byref(pointer))
        if rv != 0:
            raise OSError(f"C_GetFunctionList returned {rv:#x}")
        self._list = pointer.contents

    def _function(self, name: str, *argtypes: Any) -> Any:
        address = getattr(self._list, name)
        if not address:
            return None
        return ctypes.CFUNCTYPE(CK_RV, *argtypes)(address)

    def login(self, session: int, user_type: int, pin: bytes | None) -> int:
        """Call ``C_Login``; ``pin=None`` means the protected authentication path."""
        fn = self._function(
            "C_Login", CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG
        )
        if pin is None:
            return int(fn(session, user_type, None, 0))
        return int(fn(session, user_type, pin, len(pin)))

    def session_state(self, session: int) -> tuple[int, int]:
        """Return ``(rv, state)`` from ``C_GetSessionInfo``."""
        fn = self._function("C_GetSessionInfo", CK_ULONG, ctypes.POINTER(_SessionInfo))
        info = _SessionInfo()
        rv = int(fn(session, ctypes.byref(info)))
        return rv, int(info.state)

    def wait_for_slot_event(self) -> tuple[int, int]:
        """Return ``(rv, slot_id)`` from ``C_WaitForSlotEvent(CKF_DONT_BLOCK)``.

        Never the blocking form: python-pkcs11 initialised the module with
        ``C_Initialize(NULL)``, i.e. promised no concurrent calls (PKCS#11 v3.0 §5.4),
        so a wait blocking in one thread while another signs is outside the contract,
        and only ``C_Finalize`` (which kills every session) could cancel it. ``rv`` is
        ``CKR_NO_EVENT`` when nothing happened; a module without the function gives
        ``CKR_FUNCTION_NOT_SUPPORTED``.
        """
        fn = self._function(
            "C_WaitForSlotEvent", CK_ULONG, ctypes.POINTER(CK_ULONG), ctypes.c_void_p
        )
        if fn is None:
            return 0x054, 0  # CKR_FUNCTION_NOT_SUPPORTED: no entry in the list
        slot = CK_ULONG()
        rv = int(fn(CKF_DONT_BLOCK, ctypes.byref(slot), None))
        return rv, int(slot.value)
