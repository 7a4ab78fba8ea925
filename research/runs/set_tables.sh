# Shared by the tables.sh scripts: build a set's table from run folders, later folders' runs replacing earlier ones.
# The sourcing script sets `here` (its folder: its runs replace last, its tables land there) and `root`, and may
# define `adjust_work WORK` to change the assembled runs before the table is made.
replace() {  # replace WORK FOLDER: the folder's runs in place of those of the same name in WORK
  for run in "$2"/*_s?; do
    if [ -d "$1/$(basename "$run")" ]; then rm -rf "${1:?}/$(basename "$run")"; cp -r "$run" "$1/"; fi
  done
}
table() {  # table NAME FOLDER... -- FOLDER...: the runs of the folders before "--", those after replacing runs
  local name=$1 work replacing=; shift; work=$(mktemp -d)
  for source in "$@"; do
    if [ "$source" = -- ]; then replacing=1
    elif [ -n "$replacing" ]; then replace "$work" "$source"
    else cp -r "$source"/*_s? "$work/"; fi
  done
  replace "$work" "$here"
  if [ "$(type -t adjust_work)" = function ]; then adjust_work "$work"; fi
  python "$root/scripts/steering_benchmark.py" --output_dir "$work" --table_only > /dev/null
  cp "$work/table.md" "$here/table-$name.md"; cp "$work/table.json" "$here/table-$name.json"
  rm -rf "$work"
}
