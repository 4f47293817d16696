# Writes the unit `unit_source` to `unit_output` with its programs in
# `unit_bindir` instead of /usr/local/bin (deploy/systemd/CMakeLists.txt;
# runs at install time).
file(READ "${unit_source}" text)
string(REPLACE "/usr/local/bin/" "${unit_bindir}/" text "${text}")
file(WRITE "${unit_output}" "${text}")
