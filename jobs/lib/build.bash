# Sourced by the launchers in jobs/.
#
# Builds the project's jars, showing Maven's output only when the build fails (Maven 3.8 writes
# colour codes even in batch mode); exits 1 then.
build_project() {
  local root="$1" build_output
  if ! build_output="$(cd "$root" && mvn -B -q -ntp -DskipTests package 2>&1)"; then
    printf '%s\n' "$build_output" >&2
    echo "the build failed (mvn -B -ntp -DskipTests package in $root)" >&2
    exit 1
  fi
}

# Succeeds when one of the files after the root ($2, ...) is missing, or when the sources
# (src/main, pom.xml) are newer than the first of them.
outdated() {
  local root="$1" file
  shift
  for file in "$@"; do
    [[ -f $file ]] || return 0
  done
  [[ -n $(find "$root/src/main" "$root/pom.xml" -newer "$1" -print -quit) ]]
}

# Reads conf/jit.options into the array jit_options: one option per line, surrounding spaces
# trimmed, blank lines and lines starting with '#' skipped, a last line without a newline kept.
read_jit_options() {
  local root="$1" line
  jit_options=()
  while IFS= read -r line || [[ -n $line ]]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -z $line || $line == \#* ]] && continue
    jit_options+=("$line")
  done < "$root/conf/jit.options"
}
