# Sourced by the launchers in jobs/: builds the project's jars, showing Maven's output only when
# the build fails (Maven 3.8 writes colour codes even in batch mode); exits 1 then.
build_project() {
  local root="$1" build_output
  if ! build_output="$(cd "$root" && mvn -B -q -ntp -DskipTests package 2>&1)"; then
    printf '%s\n' "$build_output" >&2
    echo "the build failed (mvn -B -ntp -DskipTests package in $root)" >&2
    exit 1
  fi
}
