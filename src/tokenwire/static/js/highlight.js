// Syntax colours for code blocks, as safe as the markdown around them: the code is cut into
// tokens and each token goes into the page as a text node, inside a <span> whose class is
// one of five fixed names. A small tokenizer, not a parser: keywords, strings, comments,
// numbers and calls, for the languages models write most.

const WORDS = {
  python:
    "and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield match case self",
  js: "as async await break case catch class const continue debugger default delete do else enum export extends false finally for from function if implements import in instanceof interface let new null of private protected public readonly return static super switch this throw true try type typeof undefined var void while with yield",
  c: "auto bool break case catch char class const continue default delete do double else enum extends false final finally float for goto if implements import int interface long namespace new null nullptr package private protected public return short signed sizeof static struct super switch template this throw true try typedef union unsigned using var virtual void volatile while",
  go: "break case chan const continue default defer else fallthrough false for func go goto if import interface map nil package range return select struct switch true type var",
  rust: "as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while",
  sh: "case do done elif else esac export fi for function if in local readonly return select then until while echo cd exit set unset",
  sql: "add all alter and as asc begin between by case commit create delete desc distinct drop else end exists from group having in index insert into is join key left like limit not null on or order outer primary references returning right rollback select set table then union unique update values view when where with",
  ruby: "alias and begin break case class def defined do else elsif end ensure false for if in module next nil not or redo rescue retry return self super then true undef unless until when while yield",
};

const FAMILY = {
  py: "python", python: "python",
  js: "js", javascript: "js", mjs: "js", ts: "js", typescript: "js", jsx: "js", tsx: "js", json: "js",
  c: "c", h: "c", cpp: "c", "c++": "c", cc: "c", java: "c", kotlin: "c", kt: "c", cs: "c", csharp: "c", swift: "c", php: "c",
  go: "go", golang: "go",
  rust: "rust", rs: "rust",
  sh: "sh", bash: "sh", shell: "sh", zsh: "sh", console: "sh", dockerfile: "sh", yaml: "sh", yml: "sh", toml: "sh",
  sql: "sql", psql: "sql", sqlite: "sql",
  ruby: "ruby", rb: "ruby",
};

const COMMENT = {
  python: /#[^\n]*/y,
  sh: /#[^\n]*/y,
  ruby: /#[^\n]*/y,
  sql: /--[^\n]*|\/\*[\s\S]*?\*\//y,
  js: /\/\/[^\n]*|\/\*[\s\S]*?\*\//y,
  c: /\/\/[^\n]*|\/\*[\s\S]*?\*\//y,
  go: /\/\/[^\n]*|\/\*[\s\S]*?\*\//y,
  rust: /\/\/[^\n]*|\/\*[\s\S]*?\*\//y,
};

const STRING = /"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/y;
const NUMBER = /(?:0[xX][\da-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)\b/y;
const WORD = /[A-Za-z_$][\w$]*/y;
const sets = new Map();

function keywords(family) {
  if (!sets.has(family)) sets.set(family, new Set(WORDS[family].split(" ")));
  return sets.get(family);
}

function at(regex, code, i) {
  regex.lastIndex = i;
  const match = regex.exec(code);
  return match ? match[0] : null;
}

/** Fill `target` (a <code> element) with `code`, coloured for `lang` when we know it. */
export function highlight(code, lang, target) {
  const family = FAMILY[lang];
  if (!family) {
    target.textContent = code;
    return;
  }
  const words = keywords(family);
  const comment = COMMENT[family];
  let plain = "";
  const flush = () => {
    if (plain) target.append(document.createTextNode(plain));
    plain = "";
  };
  const token = (kind, text) => {
    flush();
    const span = document.createElement("span");
    span.className = `tok-${kind}`;
    span.textContent = text;
    target.append(span);
  };
  let i = 0;
  while (i < code.length) {
    const c = code[i];
    let text = comment && at(comment, code, i);
    if (text) {
      token("c", text);
      i += text.length;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      text = at(STRING, code, i);
      if (text && !(c === "'" && family === "rust")) {
        token("s", text);
        i += text.length;
        continue;
      }
    }
    if (/\d/.test(c) && !/[\w$]/.test(code[i - 1] || "")) {
      text = at(NUMBER, code, i);
      if (text) {
        token("n", text);
        i += text.length;
        continue;
      }
    }
    if (/[A-Za-z_$]/.test(c) && !/[\w$]/.test(code[i - 1] || "")) {
      text = at(WORD, code, i);
      if (words.has(text)) token("k", text);
      else if (code[i + text.length] === "(") token("f", text);
      else plain += text;
      i += text.length;
      continue;
    }
    plain += c;
    i += 1;
  }
  flush();
}
