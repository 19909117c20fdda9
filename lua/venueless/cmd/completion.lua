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
_venueless() {
	local cur=${COMP_WORDS[COMP_CWORD]} directive IFS=$'\n'
	local -a out
	out=($(command "${COMP_WORDS[0]}" __complete bash -- \
	    "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null </dev/null)) || return 0
	[ ${#out[@]} -gt 0 ] || return 0
	directive=${out[${#out[@]}-1]}
	unset 'out[${#out[@]}-1]'
	COMPREPLY=("${out[@]}")
	if [ "$directive" = ":f" ]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY+=($(compgen -f -- "$cur"))
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
