"""Code signing on macOS and Windows, switched on by environment variables (CI fills them from its secrets).

macOS: ad-hoc by default (identity ``-``): arm64 code must carry a signature to run at all, and Gatekeeper asks
the user once ("Open anyway" in System Settings > Privacy & Security). With ``MACOS_SIGN_IDENTITY`` naming a
"Developer ID Application: ..." certificate in the keychain, PyInstaller signs every binary and the .app with the
hardened runtime and ``macos/entitlements.plist`` (the spec passes them), macos_installer.py signs the .dmg, and with
the three ``MACOS_NOTARY_*`` variables it is notarized by Apple and the ticket stapled, so it opens without asking.

Windows: unsigned by default (SmartScreen warns on download). With ``WINDOWS_SIGN_PFX`` (a .pfx file) and
``WINDOWS_SIGN_PASSWORD``, signtool signs glmocr-studio.exe and glmocr-studio.com before Inno Setup packs them, and
Inno Setup signs the setup and its uninstaller with the same certificate (windows_installer.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import metadata

AD_HOC = "-"
MACOS_IDENTITY_ENV = "MACOS_SIGN_IDENTITY"
MACOS_NOTARY_ENV = ("MACOS_NOTARY_APPLE_ID", "MACOS_NOTARY_TEAM_ID", "MACOS_NOTARY_PASSWORD")
MACOS_ENTITLEMENTS = metadata.PACKAGING_DIR / "macos" / "entitlements.plist"

WINDOWS_PFX_ENV = "WINDOWS_SIGN_PFX"
WINDOWS_PASSWORD_ENV = "WINDOWS_SIGN_PASSWORD"
WINDOWS_TIMESTAMP_ENV = "WINDOWS_SIGN_TIMESTAMP_URL"
DEFAULT_TIMESTAMP_URL = "http://timestamp.digicert.com"  # RFC 3161; a signature outlives its certificate with it
# signtool ships with the Windows SDK (present on GitHub's windows runners).
SIGNTOOL_GLOB = "Windows Kits/10/bin/*/x64/signtool.exe"


class SigningSetupError(SystemExit):
    """Half a signing configuration: better to stop than to ship unsigned when signing was meant."""


# ------------------------------------------------------------------------------------------------------ macOS


def macos_identity(env: Mapping[str, str] = os.environ) -> str:
    return env.get(MACOS_IDENTITY_ENV, "").strip() or AD_HOC


def notary_credentials(env: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """Apple ID, team id and app-specific password for ``notarytool``: all three, or none (then no notarization)."""
    values = {name: env.get(name, "").strip() for name in MACOS_NOTARY_ENV}
    given = [name for name, value in values.items() if value]
    if not given:
        return None
    if len(given) < len(values):
        missing = sorted(set(values) - set(given))
        raise SigningSetupError(f"notarization needs {', '.join(MACOS_NOTARY_ENV)}; {', '.join(missing)} not set")
    if macos_identity(env) == AD_HOC:
        raise SigningSetupError(f"notarization needs a Developer ID: set {MACOS_IDENTITY_ENV}")
    return values


def sign_dmg_command(dmg: Path, identity: str) -> list[str]:
    return ["codesign", "--sign", identity, "--timestamp", str(dmg)]


def verify_app_command(app: Path) -> list[str]:
    return ["codesign", "--verify", "--deep", "--strict", "--verbose=2", str(app)]


def notarize_commands(dmg: Path, credentials: dict[str, str]) -> list[list[str]]:
    apple_id, team_id, password = (credentials[name] for name in MACOS_NOTARY_ENV)
    return [["xcrun", "notarytool", "submit", str(dmg), "--apple-id", apple_id, "--team-id", team_id,
             "--password", password, "--wait"],
            ["xcrun", "stapler", "staple", str(dmg)]]


# ---------------------------------------------------------------------------------------------------- Windows


@dataclass(frozen=True)
class WindowsSigner:
    pfx: Path
    password: str
    timestamp_url: str = DEFAULT_TIMESTAMP_URL

    def command(self, signtool: str, files: list[Path]) -> list[str]:
        return [signtool, "sign", "/f", str(self.pfx), "/p", self.password, "/fd", "sha256",
                "/tr", self.timestamp_url, "/td", "sha256", *map(str, files)]

    def inno_sign_tool(self, signtool: str) -> str:
        """Inno Setup's ``/S`` value: the same command, with ``$f`` for the file and ``$q`` for a quote."""
        return (f"$q{signtool}$q sign /f $q{self.pfx}$q /p {self.password} /fd sha256 /tr {self.timestamp_url}"
                " /td sha256 $f")


def windows_signer(env: Mapping[str, str] = os.environ) -> WindowsSigner | None:
    pfx = env.get(WINDOWS_PFX_ENV, "").strip()
    if not pfx:
        return None
    if not Path(pfx).is_file():
        raise SigningSetupError(f"{WINDOWS_PFX_ENV}={pfx} is not a file")
    if not env.get(WINDOWS_PASSWORD_ENV):
        raise SigningSetupError(f"{WINDOWS_PFX_ENV} is set but {WINDOWS_PASSWORD_ENV} is not")
    return WindowsSigner(Path(pfx), env[WINDOWS_PASSWORD_ENV],
                         env.get(WINDOWS_TIMESTAMP_ENV, "").strip() or DEFAULT_TIMESTAMP_URL)


def find_signtool(env: Mapping[str, str] = os.environ) -> str:
    found = env.get("SIGNTOOL") or shutil.which("signtool")
    if not found:
        kits = Path(env.get("ProgramFiles(x86)", r"C:\Program Files (x86)"))
        found = next((str(p) for p in sorted(kits.glob(SIGNTOOL_GLOB), reverse=True)), None)
    if not found:
        raise SigningSetupError("signing was asked for but signtool.exe is not found: install the Windows SDK or set"
                                " SIGNTOOL")
    return found
