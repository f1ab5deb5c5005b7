// The sweep's CSV files: fields quoted when they hold a comma, quote or line
// break (RFC 4180), read back by a reader that understands the same.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace homeostat::sweep {

std::string csv_field(std::string_view s);
// Appends ",FIELD" to a row.
void append_cell(std::string& row, std::string_view s);
// A CSV text -> rows of cells (the header is row 0). Quoted cells may hold
// commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

}  // namespace homeostat::sweep
