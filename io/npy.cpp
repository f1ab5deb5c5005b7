#include "homeostat/io/npy.hpp"

#include <zip.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "homeostat/io/files.hpp"

namespace homeostat::io {
namespace {

// Array data is copied to and from files as raw host bytes.
static_assert(std::endian::native == std::endian::little,
              "the .npy reader and writer assume a little-endian host");

constexpr std::string_view npy_magic{"\x93NUMPY", 6};
// numpy aligns the data start to 64 bytes so the array can be memory-mapped
// and used in place with any dtype.
constexpr std::size_t npy_alignment = 64;

std::string shape_repr(const std::vector<std::int64_t>& shape) {
  // Python's tuple repr: "()", "(3,)", "(2, 3)".
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

// Empty when `shape` describes an array whose byte size fits in int64 (and
// so in off_t and size_t on the 64-bit hosts we run on); else the reason.
std::string shape_problem(const std::vector<std::int64_t>& shape, std::size_t itemsize) {
  std::int64_t bytes = static_cast<std::int64_t>(itemsize);
  bool empty = false;
  for (const auto dim : shape) {
    if (dim < 0) return "shape " + shape_repr(shape) + " has a negative dimension";
    if (dim == 0) empty = true;
  }
  if (empty) return {};
  for (const auto dim : shape) {
    if (bytes > std::numeric_limits<std::int64_t>::max() / dim) {
      return "shape " + shape_repr(shape) + " is too large";
    }
    bytes *= dim;
  }
  return {};
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (const auto dim : shape) n *= dim;
  return n;
}

// Magic, version, header length and the header dict, padded with spaces and
// ended by '\n' so that the data that follows starts 64-byte aligned.
std::string npy_header(const std::string& descr, const std::vector<std::int64_t>& shape) {
  const std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  // Version 1.0 has a 2-byte header length; like numpy, fall back to 2.0
  // (4 bytes) for the rare header that does not fit.
  for (const int major : {1, 2}) {
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    const std::size_t prefix = npy_magic.size() + 2 + length_bytes;
    const std::size_t unpadded = prefix + dict.size() + 1;
    const std::size_t padding = (npy_alignment - unpadded % npy_alignment) % npy_alignment;
    const std::size_t header_len = dict.size() + padding + 1;
    if (major == 1 && header_len > 0xffff) continue;
    std::string out(npy_magic);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < length_bytes; ++i) {
      out += static_cast<char>((header_len >> (8 * i)) & 0xff);
    }
    out += dict;
    out.append(padding, ' ');
    out += '\n';
    return out;
  }
  throw std::invalid_argument("npy header for shape with " + std::to_string(shape.size()) +
                              " dimensions is too long");
}

// ---- header parsing: the subset of Python literal syntax numpy writes ----

struct PyValue {
  enum class Kind { string, boolean, none, integer, tuple, list };
  Kind kind = Kind::none;
  std::string text;  // string
  bool flag = false;
  std::int64_t integer = 0;
  std::vector<PyValue> items;  // tuple, list
};

std::string describe(const PyValue& v) {
  switch (v.kind) {
    case PyValue::Kind::string: return "'" + v.text + "'";
    case PyValue::Kind::boolean: return v.flag ? "True" : "False";
    case PyValue::Kind::none: return "None";
    case PyValue::Kind::integer: return std::to_string(v.integer);
    case PyValue::Kind::tuple:
    case PyValue::Kind::list: {
      const bool tuple = v.kind == PyValue::Kind::tuple;
      std::string out = tuple ? "(" : "[";
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += ", ";
        out += describe(v.items[i]);
      }
      if (tuple && v.items.size() == 1) out += ",";
      return out + (tuple ? ")" : "]");
    }
  }
  return "?";
}

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  std::map<std::string, PyValue> parse_dict() {
    std::map<std::string, PyValue> dict;
    skip_space();
    expect('{');
    skip_space();
    while (!at('}')) {
      if (!at('\'') && !at('"')) fail("expected a quoted key");
      std::string key = parse_string();
      skip_space();
      expect(':');
      PyValue value = parse_value(0);
      if (!dict.emplace(key, std::move(value)).second) fail("duplicate key '" + key + "'");
      skip_space();
      if (at('}')) break;
      expect(',');
      skip_space();
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dict");
    return dict;
  }

 private:
  // Nesting is bounded so that a hostile header cannot exhaust the stack.
  static constexpr int max_depth = 16;

  [[noreturn]] void fail(const std::string& reason) const {
    std::string shown{text_.substr(0, 200)};
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) shown.pop_back();
    throw std::runtime_error(what_ + ": malformed .npy header (" + reason + " at offset " +
                             std::to_string(pos_) + "): " + shown);
  }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    if (!at(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string parse_string() {
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  PyValue parse_value(int depth) {
    if (depth > max_depth) fail("nesting too deep");
    skip_space();
    if (pos_ >= text_.size()) fail("expected a value");
    const char c = text_[pos_];
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::string;
      v.text = parse_string();
    } else if (c == '(' || c == '[') {
      return parse_sequence(depth);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::Kind::integer;
      const char* begin = text_.data() + pos_;
      const char* end = text_.data() + text_.size();
      const auto [next, ec] = std::from_chars(begin, end, v.integer);
      if (ec == std::errc::result_out_of_range) fail("integer out of range");
      if (ec != std::errc{}) fail("malformed integer");
      pos_ += static_cast<std::size_t>(next - begin);
      if (at('L') || at('l')) ++pos_;  // Python 2 long suffix, in very old files
    } else if (text_.substr(pos_, 4) == "True") {
      v.kind = PyValue::Kind::boolean;
      v.flag = true;
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "False") {
      v.kind = PyValue::Kind::boolean;
      pos_ += 5;
    } else if (text_.substr(pos_, 4) == "None") {
      pos_ += 4;
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  PyValue parse_sequence(int depth) {
    const bool tuple = text_[pos_] == '(';
    const char close = tuple ? ')' : ']';
    ++pos_;
    PyValue v;
    v.kind = tuple ? PyValue::Kind::tuple : PyValue::Kind::list;
    bool comma = false;
    skip_space();
    while (!at(close)) {
      v.items.push_back(parse_value(depth + 1));
      skip_space();
      if (at(close)) break;
      expect(',');
      comma = true;
      skip_space();
    }
    ++pos_;
    // "(3)" is a parenthesised 3 in Python, not a tuple.
    if (tuple && v.items.size() == 1 && !comma) return std::move(v.items.front());
    return v;
  }

  std::string_view text_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

constexpr std::string_view supported_dtypes = "|b1 |u1 |i1 <i4 <i8 <u4 <f4 <f8";

DType parse_descr(const PyValue& descr, const std::string& what) {
  if (descr.kind != PyValue::Kind::string) {
    throw std::runtime_error(what + ": unsupported dtype " + describe(descr) +
                             " (structured dtypes are not supported; supported: " +
                             std::string(supported_dtypes) + ")");
  }
  const std::string& s = descr.text;
  static constexpr std::pair<std::string_view, DType> codes[] = {
      {"b1", DType::b1}, {"u1", DType::u1}, {"i1", DType::i1}, {"i4", DType::i4},
      {"i8", DType::i8}, {"u4", DType::u4}, {"f4", DType::f4}, {"f8", DType::f8}};
  if (s.size() == 3) {
    for (const auto& [code, dtype] : codes) {
      if (std::string_view(s).substr(1) != code) continue;
      const char order = s[0];
      const bool single_byte = dtype_size(dtype) == 1;
      // Byte order is meaningless for one-byte types; numpy writes '|'.
      if (single_byte && (order == '|' || order == '<' || order == '>' || order == '=')) return dtype;
      // '=' is native order, which the static_assert above makes little-endian.
      if (!single_byte && (order == '<' || order == '=')) return dtype;
      if (!single_byte && order == '>') {
        throw std::runtime_error(what + ": big-endian dtype '" + s +
                                 "' is not supported (save as little-endian '<" +
                                 std::string(code) + "')");
      }
    }
  }
  throw std::runtime_error(what + ": unsupported dtype '" + s + "' (supported: " +
                           std::string(supported_dtypes) + ")");
}

// ---- value conversion ----

template <class S>
S load(const char* p) {
  S v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// Not every byte is a valid bool object representation: read the byte.
template <>
bool load<bool>(const char* p) {
  return *p != 0;
}

template <class T, class S>
T convert(S v, std::int64_t index) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<S, bool>) {
    return static_cast<T>(v);
  } else {
    // Integer targets: values that do not fit are refused rather than
    // wrapped (integer sources) or undefined behaviour (floating sources).
    bool fits;
    if constexpr (std::is_integral_v<S>) {
      fits = std::in_range<T>(v);
    } else {
      // Truncation toward zero, as numpy's astype does.
      const double t = std::trunc(static_cast<double>(v));
      const double limit = std::ldexp(1.0, std::numeric_limits<T>::digits);
      fits = t >= (std::is_signed_v<T> ? -limit : 0.0) && t < limit;  // false for NaN
    }
    if (!fits) {
      throw std::range_error("npy element " + std::to_string(index) + " (value " +
                             std::to_string(v) + ") does not fit in " +
                             dtype_descr(dtype_of<T>()));
    }
    return static_cast<T>(v);
  }
}

template <class T, class S>
void convert_all(const std::string& data, std::vector<T>& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = convert<T>(load<S>(data.data() + i * sizeof(S)), static_cast<std::int64_t>(i));
  }
}

// ---- zip helpers ----

std::string zip_error_text(zip_error_t* error) { return zip_error_strerror(error); }

struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct ZipSourceFree {
  void operator()(zip_source_t* source) const { zip_source_free(source); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

std::string read_entry(zip_t* archive, zip_uint64_t index, const zip_stat_t& stat,
                       const std::string& what) {
  std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(archive, index, 0));
  if (!file) throw std::runtime_error(what + ": cannot open entry: " + zip_strerror(archive));
  std::string bytes;
  // The recorded size is only a hint (a corrupt archive may claim anything),
  // so reserve a bounded amount and let the string grow past it.
  if (stat.valid & ZIP_STAT_SIZE) bytes.reserve(std::min<zip_uint64_t>(stat.size, 1u << 28));
  constexpr std::size_t chunk = 1 << 20;
  for (;;) {
    const std::size_t old = bytes.size();
    bytes.resize(old + chunk);
    const zip_int64_t n = zip_fread(file.get(), bytes.data() + old, chunk);
    if (n < 0) throw std::runtime_error(what + ": cannot read entry: " + zip_file_strerror(file.get()));
    bytes.resize(old + static_cast<std::size_t>(n));
    if (n == 0) break;
  }
  if ((stat.valid & ZIP_STAT_SIZE) && bytes.size() != stat.size) {
    throw std::runtime_error(what + ": entry holds " + std::to_string(bytes.size()) +
                             " bytes, the archive records " + std::to_string(stat.size));
  }
  return bytes;
}

// An archive with no entries: only the end-of-central-directory record.
// libzip writes nothing at all for an empty archive, which no reader accepts.
std::string empty_zip() { return std::string("PK\x05\x06", 4) + std::string(18, '\0'); }

// Entry timestamps are fixed so that the same arrays always give the same
// bytes. 1980-01-02 UTC is the start of the DOS date range (in which zip
// stores times, as local time) plus a margin for any time zone.
constexpr std::time_t npz_entry_mtime = 315619200;

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::b1:
    case DType::u1:
    case DType::i1: return 1;
    case DType::i4:
    case DType::u4:
    case DType::f4: return 4;
    case DType::i8:
    case DType::f8: return 8;
  }
  throw std::invalid_argument("invalid DType " + std::to_string(static_cast<int>(dtype)));
}

std::string dtype_descr(DType dtype) {
  switch (dtype) {
    case DType::b1: return "|b1";
    case DType::u1: return "|u1";
    case DType::i1: return "|i1";
    case DType::i4: return "<i4";
    case DType::i8: return "<i8";
    case DType::u4: return "<u4";
    case DType::f4: return "<f4";
    case DType::f8: return "<f8";
  }
  throw std::invalid_argument("invalid DType " + std::to_string(static_cast<int>(dtype)));
}

std::int64_t NpyArray::size() const { return product(shape); }

template <class T>
std::vector<T> NpyArray::values() const {
  const std::size_t itemsize = dtype_size(dtype);
  if (const auto problem = shape_problem(shape, itemsize); !problem.empty()) {
    throw std::runtime_error("npy array: " + problem);
  }
  const auto n = static_cast<std::size_t>(size());
  if (data.size() != n * itemsize) {
    throw std::runtime_error("npy array: data holds " + std::to_string(data.size()) +
                             " bytes, shape " + shape_repr(shape) + " of " + dtype_descr(dtype) +
                             " needs " + std::to_string(n * itemsize));
  }
  std::vector<T> out(n);
  switch (dtype) {
    case DType::b1: convert_all<T, bool>(data, out); break;
    case DType::u1: convert_all<T, std::uint8_t>(data, out); break;
    case DType::i1: convert_all<T, std::int8_t>(data, out); break;
    case DType::i4: convert_all<T, std::int32_t>(data, out); break;
    case DType::i8: convert_all<T, std::int64_t>(data, out); break;
    case DType::u4: convert_all<T, std::uint32_t>(data, out); break;
    case DType::f4: convert_all<T, float>(data, out); break;
    case DType::f8: convert_all<T, double>(data, out); break;
  }
  return out;
}

template std::vector<bool> NpyArray::values<bool>() const;
template std::vector<std::uint8_t> NpyArray::values<std::uint8_t>() const;
template std::vector<std::int8_t> NpyArray::values<std::int8_t>() const;
template std::vector<std::int32_t> NpyArray::values<std::int32_t>() const;
template std::vector<std::int64_t> NpyArray::values<std::int64_t>() const;
template std::vector<std::uint32_t> NpyArray::values<std::uint32_t>() const;
template std::vector<float> NpyArray::values<float>() const;
template std::vector<double> NpyArray::values<double>() const;

std::string npy_bytes(DType dtype, const std::vector<std::int64_t>& shape, const void* data) {
  const std::size_t itemsize = dtype_size(dtype);
  if (const auto problem = shape_problem(shape, itemsize); !problem.empty()) {
    throw std::invalid_argument("npy_bytes: " + problem);
  }
  const auto nbytes = static_cast<std::size_t>(product(shape)) * itemsize;
  if (nbytes > 0 && data == nullptr) throw std::invalid_argument("npy_bytes: null data");
  std::string out = npy_header(dtype_descr(dtype), shape);
  out.append(static_cast<const char*>(data), nbytes);
  return out;
}

// The header of .npy bytes (which must hold all of it, data may follow):
// dtype and shape checked, `data` left empty; the data's offset in
// `data_start`.
static NpyArray parse_npy_header(std::string_view bytes, const std::string& what, std::size_t& data_start) {
  if (bytes.size() < npy_magic.size() || bytes.substr(0, npy_magic.size()) != npy_magic) {
    throw std::runtime_error(what + ": not an .npy file (bad magic)");
  }
  if (bytes.size() < npy_magic.size() + 2) throw std::runtime_error(what + ": truncated .npy header");
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0) {
    throw std::runtime_error(what + ": unsupported .npy format version " + std::to_string(major) +
                             "." + std::to_string(minor) + " (supported: 1.0, 2.0)");
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t header_start = 8 + length_bytes;
  if (bytes.size() < header_start) throw std::runtime_error(what + ": truncated .npy header");
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < length_bytes; ++i) {
    header_len |= std::size_t{static_cast<unsigned char>(bytes[8 + i])} << (8 * i);
  }
  if (bytes.size() - header_start < header_len) {
    throw std::runtime_error(what + ": truncated .npy header (header length " +
                             std::to_string(header_len) + ", file " + std::to_string(bytes.size()) +
                             " bytes)");
  }
  const std::string_view header = bytes.substr(header_start, header_len);
  auto dict = HeaderParser(header, what).parse_dict();

  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (!dict.contains(key)) throw std::runtime_error(what + ": .npy header lacks '" + key + "'");
  }
  if (dict.size() != 3) {
    for (const auto& [key, value] : dict) {
      if (key != "descr" && key != "fortran_order" && key != "shape") {
        throw std::runtime_error(what + ": unexpected key '" + key + "' in .npy header");
      }
    }
  }

  NpyArray array;
  array.dtype = parse_descr(dict["descr"], what);

  const PyValue& fortran = dict["fortran_order"];
  if (fortran.kind != PyValue::Kind::boolean) {
    throw std::runtime_error(what + ": fortran_order is " + describe(fortran) + ", not True/False");
  }
  // numpy writes fortran_order True only when the layout differs from C order.
  if (fortran.flag) {
    throw std::runtime_error(what + ": fortran_order arrays are not supported "
                             "(save with np.ascontiguousarray)");
  }

  const PyValue& shape = dict["shape"];
  if (shape.kind != PyValue::Kind::tuple) {
    throw std::runtime_error(what + ": shape " + describe(shape) + " is not a tuple");
  }
  for (const auto& dim : shape.items) {
    if (dim.kind != PyValue::Kind::integer) {
      throw std::runtime_error(what + ": shape " + describe(shape) + " holds a non-integer");
    }
    array.shape.push_back(dim.integer);
  }
  const std::size_t itemsize = dtype_size(array.dtype);
  if (const auto problem = shape_problem(array.shape, itemsize); !problem.empty()) {
    throw std::runtime_error(what + ": " + problem);
  }

  data_start = header_start + header_len;
  return array;
}

NpyArray parse_npy(const std::string& bytes, const std::string& what) {
  std::size_t data_start = 0;
  NpyArray array = parse_npy_header(bytes, what, data_start);
  const std::size_t itemsize = dtype_size(array.dtype);
  const std::size_t have = bytes.size() - data_start;
  const std::size_t need = static_cast<std::size_t>(array.size()) * itemsize;
  if (have != need) {
    throw std::runtime_error(what + ": data is " + std::to_string(have) + " bytes but shape " +
                             shape_repr(array.shape) + " of " + dtype_descr(array.dtype) +
                             " needs " + std::to_string(need) +
                             (have < need ? " (truncated)" : " (trailing bytes)"));
  }
  array.data = bytes.substr(data_start);
  return array;
}

NpyArray read_npy(const std::filesystem::path& path) { return parse_npy(read_file(path), path.string()); }

namespace {

// Reads up to `count` more bytes of an entry (fewer only at its end).
std::string read_some(zip_file_t* file, std::size_t count, const std::string& what) {
  std::string bytes(count, '\0');
  std::size_t have = 0;
  while (have < count) {
    const zip_int64_t n = zip_fread(file, bytes.data() + have, count - have);
    if (n < 0) throw std::runtime_error(what + ": cannot read entry: " + zip_file_strerror(file));
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  bytes.resize(have);
  return bytes;
}

// The most header bytes an expected array may come with: numpy's own are
// 128 bytes or so; this leaves room for any writer but not for a bomb.
constexpr std::size_t max_npy_header = 1 << 16;

// An entry read with a bound: its declared size is checked before anything
// is inflated, its .npy header before the data is, and no more than the
// declared bytes are ever held.
std::string read_entry_bounded(zip_t* archive, zip_uint64_t index, const zip_stat_t& stat, std::int64_t max_elements,
                               const std::string& what) {
  const auto limit = static_cast<zip_uint64_t>(max_npy_header) + static_cast<zip_uint64_t>(max_elements) * 8;
  if (!(stat.valid & ZIP_STAT_SIZE)) throw std::runtime_error(what + ": the archive records no size for this entry");
  if (stat.size > limit) {
    throw NpzBoundError(what + ": entry declares " + std::to_string(stat.size) +
                             " bytes uncompressed, more than an array of at most " + std::to_string(max_elements) +
                             " elements needs (" + std::to_string(limit) + "): refused before inflating it");
  }
  std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(archive, index, 0));
  if (!file) throw std::runtime_error(what + ": cannot open entry: " + zip_strerror(archive));
  const auto declared = static_cast<std::size_t>(stat.size);
  // Magic, version and header length (12 bytes covers both versions), then the header.
  std::string bytes = read_some(file.get(), std::min<std::size_t>(12, declared), what);
  if (bytes.size() >= 10 && std::string_view(bytes).substr(0, npy_magic.size()) == npy_magic) {
    const std::size_t length_bytes = bytes[6] == 1 ? 2 : 4;
    std::size_t header_len = 0;
    for (std::size_t i = 0; i < length_bytes && 8 + i < bytes.size(); ++i)
      header_len |= std::size_t{static_cast<unsigned char>(bytes[8 + i])} << (8 * i);
    const std::size_t header_end = 8 + length_bytes + header_len;
    if (header_len > max_npy_header || header_end > declared)
      throw std::runtime_error(what + ": .npy header of " + std::to_string(header_len) + " bytes does not fit");
    bytes += read_some(file.get(), header_end - bytes.size(), what);
    std::size_t data_start = 0;
    const NpyArray head = parse_npy_header(bytes, what, data_start);
    if (head.size() > max_elements)
      throw NpzBoundError(what + ": shape " + shape_repr(head.shape) + " holds " + std::to_string(head.size()) +
                               " elements, more than the " + std::to_string(max_elements) +
                               " expected: refused before reading its data");
  }
  // Now bounded by `declared`: the rest, and a check that nothing follows.
  bytes += read_some(file.get(), declared - bytes.size(), what);
  if (bytes.size() != declared || !read_some(file.get(), 1, what).empty()) {
    throw std::runtime_error(what + ": entry does not hold the " + std::to_string(declared) +
                             " bytes the archive records");
  }
  return bytes;
}

std::unique_ptr<zip_t, ZipDiscard> open_npz(const std::string& name) {
  require_regular_file(name);
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_file_create(name.c_str(), 0, -1, &error);
  if (source == nullptr) {
    const std::string reason = zip_error_text(&error);
    zip_error_fini(&error);
    throw std::runtime_error(name + ": cannot open .npz: " + reason);
  }
  // ZIP_CHECKCONS cross-checks local and central headers, so that a damaged
  // archive is reported when opened rather than as odd data later.
  std::unique_ptr<zip_t, ZipDiscard> archive(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!archive) {
    zip_source_free(source);
    const int code = zip_error_code_zip(&error);
    // libzip finds the central directory from the end, so this is what a
    // truncated file, the usual damage, reports.
    const std::string reason = zip_error_text(&error) +
                               (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS ? " (truncated or corrupt?)" : "");
    zip_error_fini(&error);
    throw std::runtime_error(name + ": cannot open .npz: " + reason);
  }
  zip_error_fini(&error);
  return archive;
}

// Every array of an .npz; with `limits`, only the arrays it names, each
// read through read_entry_bounded (the others are skipped, never inflated).
std::map<std::string, NpyArray> read_npz_entries(const std::filesystem::path& path, const NpzLimits* limits) {
  const std::string name = path.string();
  const auto archive = open_npz(name);
  std::map<std::string, NpyArray> arrays;
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME)) {
      throw std::runtime_error(name + ": cannot read entry " + std::to_string(i) + ": " +
                               zip_strerror(archive.get()));
    }
    std::string key = stat.name;
    if (!key.empty() && key.back() == '/') continue;  // a directory, not an array
    if (key.ends_with(".npy")) key.resize(key.size() - 4);
    const std::string what = name + ":" + key;
    std::string bytes;
    if (limits == nullptr) {
      bytes = read_entry(archive.get(), index, stat, what);
    } else {
      const auto limit = limits->find(key);
      if (limit == limits->end()) continue;
      bytes = read_entry_bounded(archive.get(), index, stat, limit->second, what);
    }
    if (!arrays.emplace(key, parse_npy(bytes, what)).second) {
      throw std::runtime_error(what + ": array appears twice in the archive");
    }
  }
  return arrays;
}

}  // namespace

std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path) { return read_npz_entries(path, nullptr); }

std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path, const NpzLimits& limits) {
  return read_npz_entries(path, &limits);
}

void write_npy(const std::filesystem::path& path, DType dtype, const std::vector<std::int64_t>& shape,
               const void* data) {
  write_file_atomic(path, npy_bytes(dtype, shape, data));
}

void NpzWriter::add(const std::string& name, DType dtype, const std::vector<std::int64_t>& shape,
                    const void* data) {
  add_entry(name, npy_bytes(dtype, shape, data));
}

void NpzWriter::add_bytes(const std::string& name, const std::string& text) {
  if (text.empty()) throw std::invalid_argument("NpzWriter::add_bytes: '" + name + "' is empty (numpy has no |S0)");
  add_entry(name, npy_header("|S" + std::to_string(text.size()), {}) + text);
}

void NpzWriter::add_entry(const std::string& name, std::string npy) {
  if (name.empty()) throw std::invalid_argument("NpzWriter::add: empty array name");
  for (const auto& entry : entries_) {
    if (entry.first == name) throw std::invalid_argument("NpzWriter::add: array '" + name + "' added twice");
  }
  entries_.emplace_back(name, std::move(npy));
}

void NpzWriter::write(const std::filesystem::path& path) const {
  if (entries_.empty()) {
    write_file_atomic(path, empty_zip());
    return;
  }
  const std::string name = path.string();
  const auto fail = [&](const std::string& reason) {
    throw std::runtime_error(name + ": cannot write .npz: " + reason);
  };

  // The archive is built in memory, then written with write_file_atomic.
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* raw_memory = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (raw_memory == nullptr) {
    const std::string reason = zip_error_text(&error);
    zip_error_fini(&error);
    fail(reason);
  }
  zip_t* raw_archive = zip_open_from_source(raw_memory, ZIP_TRUNCATE, &error);
  if (raw_archive == nullptr) {
    zip_source_free(raw_memory);
    const std::string reason = zip_error_text(&error);
    zip_error_fini(&error);
    fail(reason);
  }
  zip_error_fini(&error);
  // The archive owns one reference to the memory source and drops it on
  // close; the extra one keeps the written bytes readable afterwards.
  zip_source_keep(raw_memory);
  std::unique_ptr<zip_source_t, ZipSourceFree> memory(raw_memory);
  std::unique_ptr<zip_t, ZipDiscard> archive(raw_archive);

  for (const auto& [array_name, bytes] : entries_) {
    // libzip reads `bytes` only at zip_close; entries_ outlives that.
    // Deflate level 1: sparse weight matrices still shrink ~10x, at a
    // fraction of the default level's time (it dominated a short run).
    zip_source_t* entry = zip_source_buffer(archive.get(), bytes.data(), bytes.size(), 0);
    if (entry == nullptr) fail(zip_strerror(archive.get()));
    const zip_int64_t index = zip_file_add(archive.get(), (array_name + ".npy").c_str(), entry, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(entry);
      fail(array_name + ": " + zip_strerror(archive.get()));
    }
    const auto at = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive.get(), at, ZIP_CM_DEFLATE, 1) != 0 ||
        zip_file_set_mtime(archive.get(), at, npz_entry_mtime, 0) != 0) {
      fail(array_name + ": " + zip_strerror(archive.get()));
    }
  }
  if (zip_close(archive.get()) != 0) fail(zip_strerror(archive.get()));  // unique_ptr discards it
  archive.release();

  if (zip_source_open(memory.get()) != 0) fail(zip_error_strerror(zip_source_error(memory.get())));
  std::string zipped;
  char buffer[1 << 16];
  for (;;) {
    const zip_int64_t n = zip_source_read(memory.get(), buffer, sizeof buffer);
    if (n < 0) {
      const std::string reason = zip_error_strerror(zip_source_error(memory.get()));
      zip_source_close(memory.get());
      fail(reason);
    }
    if (n == 0) break;
    zipped.append(buffer, static_cast<std::size_t>(n));
  }
  zip_source_close(memory.get());
  write_file_atomic(path, zipped);
}

// ---- NpyStreamWriter ----

// Built on AtomicFile: the temp file, commit and clean-up rules are the same.
// Not thread-safe: slabs go through one stream and its file position.
struct NpyStreamWriter::Impl {
  Impl(std::filesystem::path path, DType element_type, std::vector<std::int64_t> dims)
      : file(std::move(path)), dtype(element_type), shape(std::move(dims)) {}

  AtomicFile file;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::int64_t size = 0;
  std::int64_t header_len = 0;
  std::string name;
};

NpyStreamWriter::NpyStreamWriter(std::filesystem::path path, DType dtype, std::vector<std::int64_t> shape)
    : impl_(nullptr) {
  const std::string name = path.string();
  const std::size_t itemsize = dtype_size(dtype);
  if (const auto problem = shape_problem(shape, itemsize); !problem.empty()) {
    throw std::invalid_argument(name + ": " + problem);
  }
  const std::string header = npy_header(dtype_descr(dtype), shape);
  auto impl = std::make_unique<Impl>(std::move(path), dtype, std::move(shape));
  impl->name = name;
  impl->size = product(impl->shape);
  impl->header_len = static_cast<std::int64_t>(header.size());
  const std::int64_t data_bytes = impl->size * static_cast<std::int64_t>(itemsize);
  if (data_bytes > std::numeric_limits<std::int64_t>::max() - impl->header_len) {
    throw std::invalid_argument(name + ": array too large");
  }

  auto& out = impl->file.stream();
  errno = 0;
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.flush();
  if (!out) {
    throw std::runtime_error("cannot write " + impl->file.temp_path().string() + ": " +
                             (errno != 0 ? std::strerror(errno) : "stream error"));
  }
  // Slabs may never be written; extending the file now makes them read as
  // zeros and gives the file its final length (sparsely, where supported).
  std::error_code ec;
  std::filesystem::resize_file(impl->file.temp_path(),
                               static_cast<std::uintmax_t>(impl->header_len + data_bytes), ec);
  if (ec) {
    throw std::runtime_error("cannot extend " + impl->file.temp_path().string() + ": " + ec.message());
  }
  impl_ = impl.release();
}

NpyStreamWriter::~NpyStreamWriter() { delete impl_; }

void NpyStreamWriter::write(std::int64_t offset, const void* data, std::int64_t count) {
  const Impl& impl = *impl_;
  if (offset < 0 || count < 0 || offset > impl.size - count) {
    throw std::out_of_range(impl.name + ": cannot write " + std::to_string(count) +
                            " elements at offset " + std::to_string(offset) + " into an array of " +
                            std::to_string(impl.size));
  }
  if (count == 0) return;
  if (data == nullptr) throw std::invalid_argument(impl.name + ": null data");
  const auto itemsize = static_cast<std::int64_t>(dtype_size(impl.dtype));
  auto& out = impl_->file.stream();
  errno = 0;
  out.seekp(impl.header_len + offset * itemsize);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * itemsize));
  if (!out) {
    throw std::runtime_error("cannot write elements [" + std::to_string(offset) + ", " +
                             std::to_string(offset + count) + ") to " +
                             impl.file.temp_path().string() + ": " +
                             (errno != 0 ? std::strerror(errno) : "stream error"));
  }
}

void NpyStreamWriter::commit() { impl_->file.commit(); }

}  // namespace homeostat::io
