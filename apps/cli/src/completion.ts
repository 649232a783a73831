import type { Command, Option } from 'commander';

/** One level of the command tree: its subcommands and the options valid there (its own and the program's). */
interface Level {
  path: string;
  commands: Array<{ name: string; description: string }>;
  options: readonly Option[];
}

function levels(program: Command): Level[] {
  const out: Level[] = [];
  const walk = (cmd: Command, path: string[], inherited: readonly Option[]) => {
    const options = [...cmd.options, ...inherited];
    out.push({ path: path.join(' '), commands: cmd.commands.map((c) => ({ name: c.name(), description: c.description() })), options });
    for (const c of cmd.commands) walk(c, [...path, c.name()], path.length === 0 ? cmd.options : inherited);
  };
  walk(program, [], []);
  return out;
}

const flags = (o: Option): string[] => [o.long, o.short].filter((f): f is string => typeof f === 'string');
const takesValue = (o: Option): boolean => o.required || o.optional;
/** What the value of an option is: one of its choices, a file (its value is written `<file>`), or anything. */
function valueKind(o: Option): string {
  if (o.argChoices?.length) return `choices ${o.argChoices.join(' ')}`;
  return /<file>/.test(o.flags) ? 'file' : 'any';
}

/** `case "$1" in 'a b') echo '…';; esac` lines, one per level that has something to say. */
function caseOf(list: Level[], words: (l: Level) => string[]): string {
  const arms = list.map((l) => [l.path, words(l)] as const).filter(([, w]) => w.length > 0);
  return ['  case "$1" in', ...arms.map(([p, w]) => `    '${p}') echo '${w.join(' ')}' ;;`), '  esac'].join('\n');
}

/** The shell functions both scripts read the tree from (plain sh: bash and zsh run them alike). */
function treeFunctions(program: Command): string {
  const list = levels(program);
  const help = ['--help'];
  const valueArms = list.flatMap((l) => l.options.filter(takesValue).flatMap((o) => flags(o).map((f) => `    '${l.path}|${f}') echo '${valueKind(o)}' ;;`)));
  return [
    '# the subcommands of a command path ("" is tandem itself)',
    '_tandem_commands() {',
    caseOf(list, (l) => l.commands.map((c) => c.name)),
    '}',
    '# the options valid after a command path',
    '_tandem_options() {',
    caseOf(list, (l) => [...l.options.flatMap(flags), ...help]),
    '}',
    '# the options of a command path that take a value',
    '_tandem_valued() {',
    caseOf(list, (l) => l.options.filter(takesValue).flatMap(flags)),
    '}',
    '# what the value of option $2 after command path $1 is: choices …, file, or any',
    '_tandem_value() {',
    '  case "$1|$2" in',
    ...valueArms,
    '  esac',
    '}',
    '# the command path of words $2…: commands, skipping options and their values; sets _tandem_path and',
    '# _tandem_skip (1: the word being completed is the value of the option before it)',
    '_tandem_walk() {',
    '  _tandem_path="" _tandem_skip=0',
    '  local w',
    '  for w in "$@"; do',
    '    if [ "$_tandem_skip" = 1 ]; then _tandem_skip=0; continue; fi',
    '    case "$w" in',
    '      -*) case " $(_tandem_valued "$_tandem_path") " in *" $w "*) _tandem_skip=1 ;; esac ;;',
    '      *) case " $(_tandem_commands "$_tandem_path") " in *" $w "*) _tandem_path="${_tandem_path:+$_tandem_path }$w" ;; esac ;;',
    '    esac',
    '  done',
    '}',
  ].join('\n');
}

/** `tandem completion bash`: a bash completion script for the command tree of `program`. */
export function bashCompletion(program: Command): string {
  return `# bash completion for tandem (made by: tandem completion bash)
# load it now: source <(tandem completion bash); for good: tandem completion bash > /etc/bash_completion.d/tandem
${treeFunctions(program)}
_tandem() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  _tandem_walk "\${COMP_WORDS[@]:1:COMP_CWORD-1}"
  if [ "$_tandem_skip" = 1 ]; then
    local kind
    kind="$(_tandem_value "$_tandem_path" "\${COMP_WORDS[COMP_CWORD-1]}")"
    case "$kind" in
      file) COMPREPLY=($(compgen -f -- "$cur")) ;;
      choices\\ *) COMPREPLY=($(compgen -W "\${kind#choices }" -- "$cur")) ;;
      *) COMPREPLY=() ;;
    esac
    return 0
  fi
  COMPREPLY=($(compgen -W "$(_tandem_commands "$_tandem_path") $(_tandem_options "$_tandem_path")" -- "$cur"))
}
complete -F _tandem tandem
`;
}

/** `tandem completion zsh`: a zsh completion script (commands with their descriptions). */
export function zshCompletion(program: Command): string {
  const quote = (s: string) => s.replace(/'/g, "'\\''").replace(/:/g, '\\:');
  const described = levels(program)
    .filter((l) => l.commands.length)
    .map((l) => `    '${l.path}') cmds=(${l.commands.map((c) => `'${quote(c.name)}:${quote(c.description.split('\n')[0])}'`).join(' ')}) ;;`);
  return `#compdef tandem
# zsh completion for tandem (made by: tandem completion zsh)
# load it now: source <(tandem completion zsh); for good: tandem completion zsh > "\${fpath[1]}/_tandem"
${treeFunctions(program)}
_tandem() {
  local -a cmds
  _tandem_walk "\${(@)words[2,CURRENT-1]}"
  if [ "$_tandem_skip" = 1 ]; then
    local kind="$(_tandem_value "$_tandem_path" "\${words[CURRENT-1]}")"
    case "$kind" in
      file) _files ;;
      choices\\ *) compadd -- \${=kind#choices } ;;
    esac
    return
  fi
  case "$_tandem_path" in
${described.join('\n')}
  esac
  (( \${#cmds} )) && _describe -t commands 'tandem command' cmds
  compadd -- \${=$(_tandem_options "$_tandem_path")}
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then _tandem "$@"; else compdef _tandem tandem; fi
`;
}
