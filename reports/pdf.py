"""The report as PDF: WeasyPrint over the same HTML, with a Chinese font that must be installed
(Debian: fonts-wqy-zenhei, about 10× faster to lay out than Noto CJK). Before rendering, every
character of the page is checked against the font and, for the few it lacks, against the other
installed fonts: a machine without them gets an error naming the package, never a PDF of empty
boxes."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from obligations.errors import DubanError

DEFAULT_FONT = "WenQuanYi Zen Hei"
FONT_PACKAGE = "fonts-wqy-zenhei"
SYSTEM_PACKAGES = f"{FONT_PACKAGE} libpangoft2-1.0-0"


class ReportFontError(DubanError, RuntimeError):
    prefix = "无法生成 PDF"


def _fc(*args: str) -> str:
    exe = shutil.which(args[0])
    if exe is None:
        raise ReportFontError(f"找不到 {args[0]}（fontconfig）：生成 PDF 需要 fontconfig 和中文字体，"
                              f"请安装 Debian 软件包：apt-get install fontconfig {FONT_PACKAGE}")
    return subprocess.run([exe, *args[1:]], capture_output=True, text=True, check=False).stdout


@functools.lru_cache(maxsize=8)
def font_file(family: str) -> Path:
    """The file of an installed font family (fontconfig), or a clear error."""
    if not re.fullmatch(r"[\w .-]+", family):
        raise ReportFontError(f"字体名称 {family!r} 含有不允许的字符")
    for line in _fc("fc-list", f":family={family}", "file").splitlines():
        path = Path(line.strip().rstrip(":"))
        if path.is_file():
            return path
    hint = f"请安装 Debian 软件包 {FONT_PACKAGE}（apt-get install {FONT_PACKAGE}）" if family == DEFAULT_FONT \
        else f"请安装该字体，或在 config.yaml 的 report.font 中改用已安装的中文字体（默认 {DEFAULT_FONT}，软件包 {FONT_PACKAGE}）"
    raise ReportFontError(f"未安装 PDF 所需的中文字体“{family}”：{hint}。")


@functools.lru_cache(maxsize=8)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() == ".ttc":
        fonts = TTCollection(str(path), lazy=True).fonts
    else:
        fonts = [TTFont(str(path), lazy=True)]
    return frozenset(cp for f in fonts for cp in (f.getBestCmap() or {}))


_TAGS = re.compile(r"<style.*?</style>|<[^>]+>", re.S)


def check_glyphs(html: str, family: str = DEFAULT_FONT) -> None:
    """Every visible character must have a glyph in ``family`` or in some installed font."""
    chars = {ch for ch in _TAGS.sub("", html) if not ch.isspace() and ord(ch) > 0x7E}
    covered = _cmap(font_file(family))
    missing = sorted(ch for ch in chars if ord(ch) not in covered)
    lacking = [ch for ch in missing if not _fc("fc-list", f":charset={ord(ch):x}", "family").strip()]
    if lacking:
        shown = "、".join(f"“{ch}”(U+{ord(ch):04X})" for ch in lacking[:10])
        raise ReportFontError(f"已安装的字体中没有以下字符，PDF 中会显示为空框：{shown}"
                              f"{' 等' if len(lacking) > 10 else ''}；请安装包含这些字符的字体（如 fonts-noto-cjk-extra）。")


# The faces a 公文 prints in (GB/T 9704-2012), by role, each followed by the installed fonts that
# come closest on Debian: fonts-arphic-gbsn00lp (AR PL SungtiL GB, a 宋), fonts-arphic-gkai00mp
# (AR PL KaitiM GB, a 楷), fonts-wqy-zenhei (a 黑), fonts-noto-cjk (Noto Serif/Sans CJK SC).
# The first installed one wins; the configured font (report.font) is the last resort of each.
ROLE_FONTS: dict[str, tuple[str, ...]] = {
    "title": ("方正小标宋简体", "FZXiaoBiaoSong-B05S", "AR PL SungtiL GB", "Noto Serif CJK SC"),
    "heading": ("黑体", "SimHei", "WenQuanYi Zen Hei", "Noto Sans CJK SC"),
    "subheading": ("楷体_GB2312", "KaiTi_GB2312", "楷体", "KaiTi", "AR PL KaitiM GB"),
    "body": ("仿宋_GB2312", "FangSong_GB2312", "仿宋", "FangSong", "AR PL SungtiL GB", "Noto Serif CJK SC"),
}
ROLE_PACKAGES = "fonts-arphic-gbsn00lp fonts-arphic-gkai00mp fonts-wqy-zenhei"


def installed(family: str) -> bool:
    try:
        font_file(family)
    except ReportFontError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def role_fonts(base: str = DEFAULT_FONT) -> dict[str, str]:
    """The installed family for each role (title, heading, subheading, body); ``base`` where
    none of a role's faces is installed."""
    return {role: next((f for f in faces if installed(f)), base) for role, faces in ROLE_FONTS.items()}


def write_pdf(html: str, path: Path, *, font: str = DEFAULT_FONT) -> None:
    check_glyphs(html, font)
    try:
        from weasyprint import HTML
    except OSError as exc:     # pango missing: WeasyPrint cannot load its libraries
        raise ReportFontError(f"WeasyPrint 无法加载 Pango 库（{exc}）：请安装 Debian 软件包 {SYSTEM_PACKAGES}") from None
    HTML(string=html).write_pdf(str(path))
