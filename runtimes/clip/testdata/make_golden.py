#!/usr/bin/python3
"""Writes the golden vectors of runtimes/clip from the reference tokenizer (see README.md).

Usage: /usr/bin/python3 make_golden.py REFERENCE_DIR STUB_DIR MERGES PROMPTS OUT_DIR

REFERENCE_DIR holds openai/CLIP's clip/simple_tokenizer.py (imported, not copied); STUB_DIR holds an
ftfy.py whose fix_text returns its argument (ftfy is the identity on clean text and is not packaged in
Debian). Needs python3-regex. Deterministic: the random strings come from random.Random(13).
"""
import html
import json
import random
import sys
import unicodedata

ref_dir, stub_dir, merges, prompts_path, out = sys.argv[1:6]
sys.path.insert(0, stub_dir)
sys.path.insert(0, ref_dir)
import regex  # noqa: E402
from simple_tokenizer import SimpleTokenizer  # noqa: E402

tok = SimpleTokenizer(merges)
SOT, EOT, CTX = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"], 77


def tokenize77(ids):
    """[SOT] + ids + [EOT], cut to 77 with EOT kept last (clip.tokenize(truncate=True), open_clip)."""
    t = [SOT] + ids + [EOT]
    if len(t) > CTX:
        t = t[:CTX]
        t[-1] = EOT
    return t


prompts = json.load(open(prompts_path))
classes, templates = prompts["classes"], prompts["templates"]
texts = []
# Every template with a spread of class names (the 16 cue-conflict names and every 100th ImageNet name).
cue16 = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog",
         "elephant", "keyboard", "knife", "oven", "truck"]
for i, t in enumerate(templates):
    texts.append(t)
    for c in cue16[i % 4::4] + classes[i % 100::100]:
        texts.append(t.replace("{}", c))
texts += classes  # every ImageNet name, bare
texts += [
    "", " ", "   \t\n  ", "a", "A", "I", "a photo of a {}.",
    "A PHOTO OF A DOG!!!", "It's a dog's life, isn't it? We'll see; they'd've known. I'M HERE.",
    "''s 's's ''t 're've'm'll'd", "don't", "'", "''", "'S 'T 'RE", "'ſ", "<|ſtartoftext|>",
    "<|startoftext|>a photo<|endoftext|>", "<|STARTOFTEXT|>", "<|endoftext|><|endoftext|>", "<|start",
    "3.14159 2,718 1e-10 0x1F 1000000 007", "Ⅻ ½ ¾ ² ٣ ४ ๓ ⑦ 〇", "x² H₂O 10¹⁰",
    "!!! ??? ... --- *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} ||| \\\\ /// ~~~ ``` \"\"\"",
    "a-b_c.d,e;f:g!h?i(j)k[l]m{n}o<p>q|r\\s/t~u`v^w@x#y$z%", "e-mail, e.g., i.e., etc., U.S.A.",
    "café naïve façade jalapeño Zürich São Paulo Ærøskøbing Œuvre straße STRASSE Ångström",
    "résumé, crème brûlée, piñata, coöperate, über", "ΣΑΣ ΟΔΟΣ Σ ΑΣ. ΑΣ'Β ΑΣ1 ΌΣΟΣ ΣΑ", "İstanbul IİıI DİYARBAKIR",
    "Привет мир, фотография кошки", "Ελληνικά γράμματα", "שלום עולם", "مرحبا بالعالم", "नमस्ते दुनिया",
    "日本語のテキスト", "一张猫的照片", "고양이 사진", "ภาษาไทย", "Tiếng Việt có dấu", "ქართული", "Հայերեն",
    "🐱 🐶 👍🏽 👨‍👩‍👧‍👦 🇩🇪 ❤️ ✨🎉", "emoji in a photo of a 🐱.", "a photo of a cat 😀😃😄😁",
    "ﬁ ﬂ ﬀ ǅ ǆ Ǆ ß ẞ ŉ İ", "K Å Ω ℃ ™ © ® ° µ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "tab\there\nnewline\r\nwindows",
    "\u00a0non\u00a0breaking\u2003em\u2009thin\u3000ideographic\u200bzero\u200dwidth\ufeffbom",
    "\x1c\x1d\x1e\x1f separators \x85 next line \u2028 \u2029", "\u0301combining first e\u0301 a\u0308",
    "&amp; &lt;tag&gt; &quot;q&quot; &#39; &#x27; &amp;amp; &amplt; &nbsp;x &copy2020 &notin; &notit; &#128; &#0;",
    "AT&T, R&D, Q&A, &, &&, &#, &#x, &;", "&AElig; &aelig &Eacute;t&eacute; &hearts;&#9829;&#x2665;",
    "&#1; &#11; &#127; &#65533; &#x10FFFF; &#x110000; &#xD800; &#99999999999; &#xFDD0; &#xFFFE;",
    "&lt;&lt;script&gt;&gt; &amp;#60; &amp;lt;", "&CounterClockwiseContourIntegral; &ThisNameIsNotAnEntityAtAllButLong;",
    "a " * 100, "a photo of a " + "very " * 80 + "large dog.", "supercalifragilisticexpialidocious " * 10,
    "x" * 300, "🐱" * 100, "日本" * 60, "a photo of a dog. " * 20,
    "Identify the primary shape in this image.", "Identify the primary texture in this image.",
    "a photo of a circle with a stripes texture.", "a circle shape.", "a stripes texture.",
]
rng = random.Random(13)
blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x52f), (0x590, 0x6ff), (0x900, 0xdff),
          (0x1100, 0x11ff), (0x1e00, 0x1fff), (0x2000, 0x2bff), (0x3000, 0x30ff), (0x4e00, 0x4fff),
          (0xac00, 0xacff), (0xfb00, 0xfdff), (0xfe00, 0xffef), (0x1d400, 0x1d7ff), (0x1f300, 0x1faff),
          (0x10000, 0x1ffff), (0x20000, 0x2a6df)]
for n in range(400):
    parts = []
    for _ in range(rng.randint(1, 24)):
        lo, hi = rng.choice(blocks)
        c = rng.randint(lo, hi)
        if unicodedata.category(chr(c)) in ("Cs", "Cn", "Co"):
            continue
        parts.append(chr(c))
        if rng.random() < 0.2:
            parts.append(rng.choice([" ", "  ", "\t", "'s", "&amp;", "-", "."]))
    texts.append("".join(parts))
for _ in range(100):  # clean ASCII soup
    texts.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()&#")
                         for _ in range(rng.randint(1, 120))))

with open(f"{out}/tokens.jsonl", "w", encoding="utf-8") as f:
    for t in texts:
        ids = tok.encode(t)
        f.write(json.dumps({"text": t, "ids": ids, "tokens77": tokenize77(ids)}, ensure_ascii=False) + "\n")

# Per-code-point tables, as half-open ranges [lo, hi): which branch of the reference pattern a lone
# character takes, which characters the whitespace clean-up and strip() remove, Python's lower(), and
# the Cased / Case_Ignorable properties that its final-sigma rule reads.
pat = tok.pat


def branch(c):
    if not pat.findall(c):
        return "none"
    if len(pat.findall(c + "a")) == 1:
        return "letter"
    if len(pat.findall(c + "!")) == 2:
        return "number"
    return "other"


def ranges(pred):
    out, lo = [], None
    for cp in range(0x110001):
        ok = cp <= 0x10FFFF and not (0xD800 <= cp < 0xE000) and pred(chr(cp))
        if ok and lo is None:
            lo = cp
        elif not ok and lo is not None:
            out.append([lo, cp])
            lo = None
    return out


def cased(c):
    return ("x" + c + "Σ").lower().endswith("ς") and (c + "Σ").lower().endswith("ς")


def ignorable(c):
    return ("A" + c + "Σ").lower().endswith("ς") and not (c + "Σ").lower().endswith("ς")


lower = {}
for cp in range(0x110000):
    if 0xD800 <= cp < 0xE000 or cp == 0x3A3:
        continue
    lo = chr(cp).lower()
    if lo != chr(cp):
        lower[cp] = [ord(x) for x in lo]
tables = {
    "python": sys.version.split()[0], "unicodedata": unicodedata.unidata_version, "regex": regex.__version__,
    "letter": ranges(lambda c: branch(c) == "letter"),
    "number": ranges(lambda c: branch(c) == "number"),
    "other": ranges(lambda c: branch(c) == "other"),
    "regex_space": ranges(lambda c: regex.fullmatch(r"\s", c) is not None),
    "isspace": ranges(str.isspace),
    "cased": ranges(cased),
    "case_ignorable": ranges(ignorable),
    "lower": {str(k): v for k, v in lower.items()},
}
with open(f"{out}/unicode.json", "w") as f:
    json.dump(tables, f, separators=(",", ":"))
    f.write("\n")

# html.unescape on its own (the reference applies it twice).
cases = ["&#%d;" % n for n in list(range(0, 0x200)) + [0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFDCF, 0xFDD0, 0xFDEF,
                                                       0xFDF0, 0xFFFD, 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF, 0x110000]]
cases += ["&#x%x" % n for n in range(0x70, 0xA0)] + ["&#X41;", "&#x41", "&#65", "&#0065;x", "&#;", "&#x;", "&#xg;"]
names = ["amp", "lt", "gt", "quot", "apos", "nbsp", "copy", "AElig", "aelig", "not", "notin", "notit", "Eacute",
         "hearts", "NotEqualTilde", "bne", "acE", "fjlig", "CounterClockwiseContourIntegral", "zwj", "xyz", "AMP",
         "Amp", "middot", "curren", "brvbar", "frac12", "sup2", "ThisIsNotAnEntityAtAll", "a", ""]
for n in names:
    for tail in [";", "", "x", ";x", "-x", " x", "=", "1;", "&amp;", "#1"]:
        cases.append("&" + n + tail)
with open(f"{out}/unescape.jsonl", "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps({"in": c, "out": html.unescape(c)}, ensure_ascii=False) + "\n")
print(len(texts), "texts;", len(cases), "unescape cases", file=sys.stderr)
