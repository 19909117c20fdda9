-- venueless completion bash|zsh|fish: print the shell's completion
-- script. Each Tab runs `venueless __complete` (cmd/complete_words.lua),
-- which answers from the command table of the binary that runs, so the
-- script never goes stale after an upgrade, and reads live values with
-- the shell completer's short timeouts, cache and back-off.
local cli = require "venueless.cli"

local M = {}

M.scripts = {}

M.scripts.bash = [=[
# bash completion for venueless; in ~/.bashrc:
#   source <(venueless completion bash)
# bash splits --opt=value into three words (= is in COMP_WORDBREAKS):
# they are joined again for venueless __complete, and its answers cut
# to the part after the = that bash replaces ($2).
_venueless() {
	local line=${COMP_LINE:0:COMP_POINT} directive pre w c i glued IFS=$'\n'
	local -a out words
	for ((i = 0; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]} glued=1
		case $line in [[:space:]]*) glued=0 ;; esac
		line=${line#"${line%%[![:space:]]*}"}
		((i < COMP_CWORD)) || w=$line	# the current word: up to the cursor
		line=${line#"$w"}
		if ((i > 0 && glued)) && [[ $w == =* || ${words[${#words[@]}-1]} == *= ]]; then
			words[${#words[@]}-1]+=$w
		else
			words+=("$w")
		fi
	done
	out=($(command "${COMP_WORDS[0]}" __complete bash -- "${words[@]:1}" \
	    2>/dev/null </dev/null)) || return 0
	[ ${#out[@]} -gt 0 ] || return 0
	directive=${out[${#out[@]}-1]}
	unset 'out[${#out[@]}-1]'
	pre=${words[${#words[@]}-1]}
	pre=${pre%"$2"}
	COMPREPLY=()
	for c in "${out[@]}"; do
		[[ $c == "$pre"* ]] && COMPREPLY+=("${c#"$pre"}")
	done
	if [ "$directive" = ":f" ]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY+=($(compgen -f -- "$2"))
	fi
	return 0
}
complete -F _venueless venueless
]=]

M.scripts.zsh = [=[
#compdef venueless
# zsh completion for venueless; in ~/.zshrc, after compinit:
#   source <(venueless completion zsh)
_venueless() {
	local -a out
	local directive
	out=("${(@f)$(${words[1]} __complete zsh -- "${(@)words[2,CURRENT]}" \
	    2>/dev/null </dev/null)}")
	directive=${out[-1]}
	out[-1]=()
	(( ${#out} )) && _describe -t values venueless out
	[[ $directive == :f ]] && _files
	return 0
}
compdef _venueless venueless
]=]

M.scripts.fish = [=[
# fish completion for venueless; in ~/.config/fish/config.fish:
#   venueless completion fish | source
function __venueless_complete
	set -l tokens (commandline -opc)
	set -l cur (commandline -ct)
	set -l out (command $tokens[1] __complete fish -- $tokens[2..-1] $cur 2>/dev/null </dev/null)
	or return 0
	set -q out[1]; or return 0
	set -l directive $out[-1]
	set -e out[-1]
	printf '%s\n' $out
	if test "$directive" = ":f"
		__fish_complete_path $cur
	end
end
complete -c venueless -e
complete -c venueless -f -a '(__venueless_complete)'
]=]

function M.run(_, args)
  cli.max_args(args, 1)
  local shell = args[1]
  if shell == nil then cli.usage("expected bash, zsh or fish") end
  local script = M.scripts[shell]
  if script == nil then cli.usage("unknown shell " .. shell .. ": expected bash, zsh or fish") end
  io.stdout:write(script)
end

return M
