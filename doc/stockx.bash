# bash completion for stockx(1), installed as
# $(PREFIX)/share/bash-completion/completions/stockx.
# Nothing here names a command or a flag: the binary being completed says
# them.  The usage lines of `stockx --help` give the commands, their flags
# and their arguments (FILE: a .lua script), its option lists the global
# and the sandbox flags, and `stockx --settings` which flags take a value
# and which values (log level, log format).  A command or flag added to the
# binary is completed without editing this file.
#
# Lists of flags are kept as space-separated words, split on purpose:
# shellcheck disable=SC2086

# _stockx_read BIN: fills the caller's usage, hflags, sbflags, arg and vals
# from BIN --help and BIN --settings (run with an empty environment, so
# that a bad STOCKX_* variable does not make them fail).
_stockx_read() {
    local line sect='' flag rest ty doc
    while IFS= read -r line; do
        if [[ -z $line ]]; then
            sect=
            continue
        fi
        if [[ $line == "usage: "* ]]; then
            sect=usage
            line=${line#usage:}
        elif [[ $line != " "* && $line == *: ]]; then
            case $line in
            "sandbox options"*) sect=sandbox ;;
            *options*) sect=options ;;
            *) sect= ;;
            esac
            continue
        fi
        case $sect in
        usage)
            line=${line#"${line%%[! ]*}"}
            line=${line%%"  ("*} # a trailing "  (comment)"
            [[ $line == "stockx "* ]] && usage+=("${line#stockx }")
            ;;
        options | sandbox)
            [[ $line == "  -"* ]] || continue
            rest=${line#  }
            flag=${rest%% *}
            rest=${rest#"$flag"}
            if [[ $rest == " "[!\ ]* ]]; then # "--port N   doc"
                rest=${rest# }
                arg[$flag]=${rest%% *}
            fi
            if [[ $sect == sandbox ]]; then
                sbflags+=("$flag")
            else
                hflags+=("$flag")
            fi
            ;;
        esac
    done < <(env -i "$1" --help 2>/dev/null)
    while IFS='|' read -r _ _ ty _ _ flag _ doc _; do
        flag=${flag//[\` ]/}
        ty=${ty// /}
        [[ $flag == --[a-z]* ]] || continue
        case $ty in
        boolean) ;; # a flag alone
        file) arg[$flag]=FILE ;;
        level | format)
            arg[$flag]=${ty^^}
            while [[ $doc == *"("*")"* ]]; do # "text (logfmt) or json"
                doc=${doc%%"("*}${doc#*")"}
            done
            doc=${doc//,/ }
            vals[$flag]=${doc// or / }
            ;;
        *) arg[$flag]=${ty^^} ;;
        esac
    done < <(env -i "$1" --settings 2>/dev/null)
}

# _stockx_line N: parses usage[N] ("[options] run [--sandbox [sandbox
# options]] FILE [args...]") into the caller's per-line arrays: lpath[N]
# its command words ("run ", "" for none), lopts[N] 1 if it takes the
# global options, lflags[N] its flags, lpos[N] its positional arguments,
# lsb[N] the flag after which the sandbox options come ("-": at once),
# largs[N] 1 if script arguments end it.  A flag followed by a NAME
# takes a value (arg[flag]=NAME).
_stockx_line() {
    local s=${usage[$1]} w prev='' inpath=1 ws
    s=${s//"[sandbox options]"/ @SB }
    s=${s//"[options]"/ @OPTS }
    s=${s//"[args...]"/ @ARGS }
    s=${s//[\[\]|]/ }
    read -ra ws <<<"$s"
    lpath[$1]='' lopts[$1]=0 lflags[$1]='' lpos[$1]='' lsb[$1]='' largs[$1]=0
    for w in "${ws[@]}"; do
        case $w in
        @OPTS) lopts[$1]=1 ;;
        @SB) if [[ $prev == -* ]]; then lsb[$1]=$prev; else lsb[$1]=-; fi ;;
        @ARGS) largs[$1]=1 ;;
        -*) lflags[$1]+="$w " ;;
        [A-Z]*)
            if [[ $prev == -* ]]; then
                arg[$prev]=$w
            else
                lpos[$1]+="$w "
            fi
            ;;
        [a-z]*) [[ $inpath == 1 ]] && lpath[$1]+="$w " ;;
        esac
        [[ $w == [a-z]* || $w == @OPTS ]] || inpath=0
        prev=$w
    done
}

# _stockx_has WORD LIST...: 0 if WORD is one of LIST.
_stockx_has() {
    local w=$1 x
    shift
    for x in "$@"; do [[ $x == "$w" ]] && return 0; done
    return 1
}

# _stockx_extends WORDS: 0 if some command's words start with WORDS.
_stockx_extends() {
    local n
    for n in "${!usage[@]}"; do
        [[ ${lpath[n]} == "$1"* ]] && return 0
    done
    return 1
}

# _stockx_files lua|any: file names for $cur (with directories, and only
# .lua files for "lua").
_stockx_files() {
    local x
    compopt -o filenames 2>/dev/null
    if [[ $1 == lua ]]; then
        while IFS= read -r x; do COMPREPLY+=("$x"); done < <(
            compgen -d -- "$cur"
            compgen -f -X '!*.lua' -- "$cur"
        )
    else
        while IFS= read -r x; do COMPREPLY+=("$x"); done < <(compgen -f -- "$cur")
    fi
}

# _stockx_words WORD...: those of WORDS that start with $cur.
_stockx_words() {
    local x
    while IFS= read -r x; do COMPREPLY+=("$x"); done < <(compgen -W "$*" -- "$cur")
}

# _stockx_value FLAG: completes the value of FLAG.
_stockx_value() {
    if [[ -n ${vals[$1]+x} ]]; then
        _stockx_words ${vals[$1]}
    else
        case ${arg[$1]} in
        FILE | *FILE | LOG | DIR) _stockx_files any ;;
        esac
    fi
}

# _stockx_in N: completes $cur inside usage line N, given the caller's
# walk (sb: sandbox options open, npos: positional arguments seen,
# inargs: in the script's arguments).
_stockx_in() {
    local -a pos
    read -ra pos <<<"${lpos[$1]}"
    if ((inargs)); then
        _stockx_files any
    elif [[ $cur == -* ]]; then
        _stockx_words ${lflags[$1]}
        ((sb)) && _stockx_words "${sbflags[@]}"
        ((lopts[$1])) && _stockx_words "${gflags[@]}"
    elif ((npos < ${#pos[@]})); then
        case ${pos[npos]} in
        FILE) _stockx_files lua ;;
        *FILE | LOG | DIR) _stockx_files any ;;
        esac
    fi
}

# _stockx_choose PATH: the number of the usage line whose command words
# are PATH (for PATH "": the one taking FLAG $2, or a positional), or -1.
_stockx_choose() {
    local n
    for n in "${!usage[@]}"; do
        [[ ${lpath[n]} == "$1" ]] || continue
        if [[ -n $1 ]] || { [[ -n $2 ]] && _stockx_has "$2" ${lflags[n]}; } ||
            { [[ -z $2 ]] && [[ -n ${lpos[n]} ]]; }; then
            echo "$n"
            return
        fi
    done
    echo -1
}

# _stockx_step W: one word of the command line inside usage line $line.
_stockx_step() {
    if ((sb)) && _stockx_has "$1" "${sbflags[@]}"; then
        [[ -n ${arg[$1]} ]] && want=$1
    elif _stockx_has "$1" ${lflags[line]}; then
        [[ ${lsb[line]} == "$1" ]] && sb=1
        [[ -n ${arg[$1]} ]] && want=$1
        [[ -n ${arg[$1]} && -z ${lpos[line]} ]] && ((largs[line])) && inargs=1
    elif _stockx_has "$1" "${gflags[@]}"; then
        [[ -n ${arg[$1]} ]] && want=$1
    elif [[ $1 != -* ]]; then
        sb=0
        ((npos++))
        local -a pos
        read -ra pos <<<"${lpos[line]}"
        ((npos >= ${#pos[@]} && largs[line])) && inargs=1
    fi
}

_stockx() {
    local cur=${COMP_WORDS[COMP_CWORD]} bin
    bin=${COMP_WORDS[0]}
    # shellcheck disable=SC2088 # a "~/" the user typed, not yet expanded
    [[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
    bin=$(type -P -- "$bin") || return 0
    local -a usage=() hflags=() sbflags=() gflags=() lpath=() lopts=() \
        lflags=() lpos=() lsb=() largs=()
    local -A arg=() vals=()
    COMPREPLY=()
    _stockx_read "$bin"
    local n f i w prefix='' line=-1 sb=0 npos=0 inargs=0 want='' all=''
    for n in "${!usage[@]}"; do
        _stockx_line "$n"
        all+=" ${lflags[n]}"
    done
    for f in "${hflags[@]}"; do # the global flags: not a command's own
        _stockx_has "$f" $all || gflags+=("$f")
    done

    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $want ]]; then # this word is the value of $want
            want=
            continue
        fi
        ((inargs)) && break
        if ((line < 0)); then
            if [[ $w != -* ]] && _stockx_extends "$prefix$w "; then
                prefix+="$w "
                continue
            elif [[ -z $prefix ]] && _stockx_has "$w" "${gflags[@]}"; then
                [[ -n ${arg[$w]} ]] && want=$w
                continue
            fi
            if [[ -z $prefix && $w == -* ]]; then
                line=$(_stockx_choose "" "$w")
            else
                line=$(_stockx_choose "$prefix")
            fi
            ((line < 0)) && return 0
            [[ ${lsb[line]} == - ]] && sb=1
        fi
        _stockx_step "$w"
    done

    if [[ -n $want ]]; then
        _stockx_value "$want"
    elif ((line >= 0)); then
        _stockx_in "$line"
    elif [[ -n $prefix ]]; then # command words so far: the next ones
        for n in "${!usage[@]}"; do
            [[ ${lpath[n]} == "$prefix"?* ]] || continue
            w=${lpath[n]#"$prefix"}
            _stockx_words "${w%% *}"
        done
        line=$(_stockx_choose "$prefix")
        if ((line >= 0)); then
            [[ ${lsb[line]} == - ]] && sb=1
            _stockx_in "$line"
        fi
    elif [[ $cur == -* ]]; then
        _stockx_words "${gflags[@]}"
        for n in "${!usage[@]}"; do
            [[ -z ${lpath[n]} ]] && _stockx_words ${lflags[n]}
        done
    else
        for n in "${!usage[@]}"; do
            [[ -n ${lpath[n]} ]] && _stockx_words "${lpath[n]%% *}"
        done
        [[ $(_stockx_choose "") != -1 ]] && _stockx_files lua
    fi
    # one of each (a command with two usage lines, a flag in two lists)
    local -A seen=()
    local -a out=()
    for w in "${COMPREPLY[@]}"; do
        [[ -n ${seen[$w]+x} ]] && continue
        seen[$w]=1
        out+=("$w")
    done
    COMPREPLY=("${out[@]}")
}

complete -F _stockx stockx
