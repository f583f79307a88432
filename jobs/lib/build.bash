# Sourced by the launchers in jobs/.

# What the launchers need beyond Java and Maven, checked first so that a missing piece is named
# rather than met halfway: bash 4.1 or later (file descriptors held in variables), flock
# (util-linux) and sha1sum (GNU coreutils), and a machine of the platform of ND4J's native
# library that pom.xml names (javacpp.platform).
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 1))); then
  echo "error: ${0##*/} needs bash 4.1 or later; this is bash $BASH_VERSION" >&2
  exit 1
fi
for tool in flock sha1sum; do
  if ! command -v "$tool" > /dev/null; then
    echo "error: ${0##*/} needs $tool (flock: util-linux; sha1sum: GNU coreutils), which is not on PATH" >&2
    exit 1
  fi
done
# Refuses a machine of another platform than pom.xml's javacpp.platform (for the launchers that run
# ND4J here; a driver submitted with jobs/spark-submit runs its tasks where the cluster is).
check_platform() {
  local pom_platform machine
  pom_platform="$(sed -n 's:.*<javacpp.platform>\(.*\)</javacpp.platform>.*:\1:p' "$1/pom.xml")"
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) machine=linux-x86_64 ;;
    Linux-aarch64 | Linux-arm64) machine=linux-arm64 ;;
    Darwin-x86_64) machine=macosx-x86_64 ;;
    Darwin-arm64) machine=macosx-arm64 ;;
    *) machine="$(uname -s)-$(uname -m)" ;;
  esac
  if [[ -n $pom_platform && $pom_platform != "$machine" ]]; then
    echo "error: pom.xml's javacpp.platform is $pom_platform (ND4J's native library), but this machine is" \
      "$machine: set javacpp.platform in pom.xml to a platform ND4J builds for that matches it" >&2
    exit 1
  fi
}

# Builds the project's jars if $3, ... (the files the caller needs) are missing or older than the
# sources, printing $2 first. One build at a time per checkout: a command that finds another
# building waits for it (a lock in target/), then builds only if that build did not do the job.
ensure_built() {
  local root="$1" message="$2"
  shift 2
  outdated "$root" "$@" || return 0
  mkdir -p "$root/target"
  exec {build_lock}> "$root/target/.build.lock"
  if ! flock -n "$build_lock"; then
    echo "waiting for another command's build of $root to finish ..." >&2
    # Tried again every half second rather than waited for in one flock, which a signal to this
    # script would leave behind, still waiting.
    local status
    while true; do
      status=0
      flock -n "$build_lock" || status=$?
      ((status == 1)) || break
      sleep 0.5
    done
    # Other than "held by another": flock missing or failing here.
    if ((status != 0)); then
      echo "could not take the build lock $root/target/.build.lock (flock exit status $status)" >&2
      exit 1
    fi
  fi
  if outdated "$root" "$@"; then
    echo "$message" >&2
    build_project "$root"
  fi
  exec {build_lock}>&-
}

# Builds the project's jars, showing Maven's output only when the build fails (Maven 3.8 writes
# colour codes even in batch mode); exits 1 then. A build that does not finish (interrupted,
# killed, failed) leaves target/.build-incomplete, so that the next command builds again: the
# shaded jar is written in place, and a half-written one has a new time.
build_project() {
  local root="$1" log pid status=0 signalled=0 entries entry jar
  local incomplete="$root/target/.build-incomplete"
  mkdir -p "$root/target"
  : > "$incomplete"
  log="$(mktemp)"
  # In the background, so that a signal reaches the trap at once and Maven is stopped with it.
  # Without the lock's descriptor: what Maven leaves running, should it be killed, must not hold the lock.
  ([[ -z ${build_lock:-} ]] || exec {build_lock}>&-; cd "$root" && exec mvn -B -q -ntp -DskipTests package) > "$log" 2>&1 &
  pid=$!
  trap 'signalled=130; kill "$pid" 2> /dev/null' INT
  trap 'signalled=143; kill "$pid" 2> /dev/null' TERM
  wait "$pid" || status=$?
  trap - INT TERM
  if ((signalled != 0)); then
    wait "$pid" 2> /dev/null || true
    rm -f "$log"
    echo "interrupted during the build of $root: the command did not run (the next one builds again)" >&2
    exit "$signalled"
  fi
  if ((status != 0)); then
    cat "$log" >&2
    rm -f "$log"
    echo "the build failed (mvn -B -ntp -DskipTests package in $root)" >&2
    exit 1
  fi
  rm -f "$log"
  # copy-dependencies adds jars to target/spark-home/jars and never removes one: those of versions
  # the pom no longer names would stand beside the current ones on the daemons' classpath.
  if [[ -f $root/target/classpath.txt && -d $root/target/spark-home/jars ]]; then
    declare -A current=()
    IFS=: read -r -a entries < "$root/target/classpath.txt" || true
    for entry in ${entries[@]+"${entries[@]}"}; do
      current["${entry##*/}"]=1
    done
    for jar in "$root"/target/spark-home/jars/*.jar; do
      [[ -n ${current["${jar##*/}"]:-} ]] || rm -f "$jar"
    done
  fi
  rm -f "$incomplete"
}

# Succeeds when one of the files after the root ($2, ...) is missing, when a build did not finish,
# or when the sources (src/main, pom.xml) are newer than the first of them.
outdated() {
  local root="$1" file
  shift
  [[ ! -e $root/target/.build-incomplete ]] || return 0
  for file in "$@"; do
    [[ -e $file ]] || return 0
  done
  [[ -n $(find "$root/src/main" "$root/pom.xml" -newer "$1" -print -quit) ]]
}

# Runs a command in the background and waits for it, keeping its pid in $child meanwhile: a
# signal then reaches the caller's trap at once (a foreground child delays it to the child's end),
# which can stop the child.
run_child() {
  local status=0
  "$@" &
  child=$!
  wait "$child" || status=$?
  child=""
  return "$status"
}

# Reads conf/jit.options into the array jit_options: one option per line, surrounding spaces
# trimmed, blank lines and lines starting with '#' skipped, a last line without a newline kept.
read_jit_options() {
  local root="$1" line number=0
  jit_options=()
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -z $line || $line == \#* ]] && continue
    # A line that is no option would be taken by java for the class to run.
    if [[ $line != -* ]]; then
      echo "$root/conf/jit.options: line $number: expected a JVM option starting with '-', got '$line'" >&2
      exit 2
    fi
    jit_options+=("$line")
  done < "$root/conf/jit.options"
}
