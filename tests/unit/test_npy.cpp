// NPY/NPZ files and atomic file output (io/npy.cpp, io/files.cpp).
//
// Interop tests run Debian's /usr/bin/python3 with numpy (the python3 on
// PATH may lack numpy) and skip when it is not installed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "homeostat/io/files.hpp"
#include "homeostat/io/npy.hpp"

namespace fs = std::filesystem;
using homeostat::io::AtomicFile;
using homeostat::io::DType;
using homeostat::io::NpyArray;
using homeostat::io::NpyStreamWriter;
using homeostat::io::NpzWriter;

namespace {

constexpr const char* system_python = "/usr/bin/python3";

// A fresh directory per test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device entropy;
    path_ = fs::temp_directory_path() /
            ("homeostat_test_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()) + "_" + std::to_string(entropy()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

  // Names of everything directly inside, to spot stray temp files.
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) names.insert(entry.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The message of the E that `f` throws; a failure if it throws nothing.
template <class E = std::runtime_error, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

std::string parse_error(const std::string& bytes, const std::string& what = "src.npy") {
  return error_of([&] { homeostat::io::parse_npy(bytes, what); });
}

// An .npy with a hand-written header dict, for malformed inputs.
std::string npy_with_header(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((6 + 2 + length_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

bool numpy_available() {
  const std::string command = std::string(system_python) + " -c 'import numpy' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Runs `script` with the directory as argv[1]; the exit status, 0 on success.
// Its output is kept in python.log and attached to failures by the caller.
int run_python(const TempDir& dir, const std::string& script, std::string& log) {
  const auto script_path = dir / "check.py";
  write_raw(script_path, script);
  const auto log_path = dir / "python.log";
  const std::string command = std::string(system_python) + " '" + script_path.string() + "' '" +
                              dir.path().string() + "' > '" + log_path.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  log = homeostat::io::read_file(log_path);
  return status;
}

// Shared test data: the same values are spelled out in the Python scripts.
const std::vector<std::uint8_t> b1_values = {1, 0, 0, 1, 0, 0};  // shape (2, 3)
const std::vector<std::uint8_t> u1_values = {0, 1, 127, 128, 255};
const std::vector<std::int8_t> i1_values = {-128, -1, 0, 1, 127};
const std::vector<std::int32_t> i4_values = {std::numeric_limits<std::int32_t>::min(), -1, 0, 1,
                                             std::numeric_limits<std::int32_t>::max(), 123456};
const std::vector<std::int64_t> i8_values = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                             std::numeric_limits<std::int64_t>::max(), std::int64_t{1} << 40};
const std::vector<std::uint32_t> u4_values = {0, 1, 2147483648u, 4294967295u};
const std::vector<float> f4_values = {0.5f, -1.25f, 3e38f, -0.0f, std::numeric_limits<float>::infinity(),
                                      std::numeric_limits<float>::quiet_NaN()};
const std::vector<double> f8_values = {0.1, -2.5, 1e300, 5e-324, -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN()};

// Compares as bytes so that NaN and -0.0 count as themselves.
template <class T>
void expect_same_values(const std::vector<T>& got, const std::vector<T>& want) {
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(raw_bytes(got), raw_bytes(want));
}

template <class T>
void expect_round_trip(const TempDir& dir, const std::vector<T>& values,
                       const std::vector<std::int64_t>& shape) {
  const auto path = dir / "round_trip.npy";
  homeostat::io::write_npy(path, values, shape);
  const NpyArray array = homeostat::io::read_npy(path);
  EXPECT_EQ(array.dtype, homeostat::io::dtype_of<T>());
  EXPECT_EQ(array.shape, shape);
  EXPECT_EQ(array.size(), static_cast<std::int64_t>(values.size()));
  EXPECT_EQ(array.data, raw_bytes(values));
  expect_same_values(array.values<T>(), values);
}

}  // namespace

// ---- layout ----

TEST(NpyHeader, LayoutMatchesNumpyFormat10) {
  const std::vector<double> values = {1, 2, 3, 4, 5, 6};
  const std::string bytes = homeostat::io::npy_bytes(DType::f8, {2, 3}, values.data());
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(bytes[6], '\x01');
  EXPECT_EQ(bytes[7], '\x00');
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  const std::size_t data_start = 10 + header_len;
  EXPECT_EQ(data_start % 64, 0u);
  EXPECT_EQ(bytes[data_start - 1], '\n');
  const std::string header = bytes.substr(10, header_len);
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(header.substr(0, dict.size()), dict);
  EXPECT_EQ(header.find_first_not_of(' ', dict.size()), header_len - 1) << "padding is spaces";
  EXPECT_EQ(bytes.size(), data_start + values.size() * sizeof(double));
  EXPECT_EQ(bytes.substr(data_start), raw_bytes(values));
}

TEST(NpyHeader, ShapesAndDtypesAreSpelledAsNumpyDoes) {
  const struct {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string dict;
  } cases[] = {
      {DType::b1, {}, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"},
      {DType::u1, {0}, "{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }"},
      {DType::i1, {7}, "{'descr': '|i1', 'fortran_order': False, 'shape': (7,), }"},
      {DType::i4, {3, 0, 2}, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 0, 2), }"},
      {DType::i8, {1}, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }"},
      {DType::u4, {2, 2}, "{'descr': '<u4', 'fortran_order': False, 'shape': (2, 2), }"},
      {DType::f4, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
       "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }"},
  };
  for (const auto& c : cases) {
    std::vector<char> zeros(64, 0);
    const std::string bytes = homeostat::io::npy_bytes(c.dtype, c.shape, zeros.data());
    const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    EXPECT_EQ((10 + header_len) % 64, 0u) << c.dict;
    EXPECT_EQ(bytes.substr(10, c.dict.size()), c.dict);
    EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    std::int64_t n = 1;
    for (auto d : c.shape) n *= d;
    EXPECT_EQ(bytes.size(), 10 + header_len + static_cast<std::size_t>(n) * homeostat::io::dtype_size(c.dtype));
  }
}

TEST(NpyHeader, DtypeSizesAndDescrs) {
  EXPECT_EQ(homeostat::io::dtype_size(DType::b1), 1u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::u1), 1u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::i1), 1u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::i4), 4u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::u4), 4u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::f4), 4u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::i8), 8u);
  EXPECT_EQ(homeostat::io::dtype_size(DType::f8), 8u);
  EXPECT_EQ(homeostat::io::dtype_descr(DType::b1), "|b1");
  EXPECT_EQ(homeostat::io::dtype_descr(DType::u4), "<u4");
  EXPECT_EQ(homeostat::io::dtype_descr(DType::f8), "<f8");
}

TEST(NpyHeader, RejectsInvalidShapes) {
  const double x = 0;
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { homeostat::io::npy_bytes(DType::f8, {2, -1}, &x); }),
                       "negative"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] {
                         homeostat::io::npy_bytes(DType::f8, {std::int64_t{1} << 40, std::int64_t{1} << 40}, &x);
                       }),
                       "too large"));
  EXPECT_THROW(homeostat::io::npy_bytes(DType::f8, {2}, nullptr), std::invalid_argument);
}

// ---- round trips ----

TEST(NpyRoundTrip, EveryDtype) {
  TempDir dir;
  expect_round_trip(dir, u1_values, {5});
  expect_round_trip(dir, i1_values, {5});
  expect_round_trip(dir, i4_values, {2, 3});
  expect_round_trip(dir, i8_values, {3, 2});
  expect_round_trip(dir, u4_values, {2, 2});
  expect_round_trip(dir, f4_values, {6});
  expect_round_trip(dir, f8_values, {2, 1, 3});

  // std::vector<bool> has no data(): bool arrays go through the raw overload.
  const auto path = dir / "bool.npy";
  homeostat::io::write_npy(path, DType::b1, {2, 3}, b1_values.data());
  const NpyArray array = homeostat::io::read_npy(path);
  EXPECT_EQ(array.dtype, DType::b1);
  EXPECT_EQ(array.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(array.values<bool>(), (std::vector<bool>{true, false, false, true, false, false}));
  EXPECT_EQ(array.values<std::uint8_t>(), b1_values);
}

TEST(NpyRoundTrip, ZeroDimensional) {
  TempDir dir;
  expect_round_trip(dir, std::vector<double>{3.5}, {});
  expect_round_trip(dir, std::vector<std::int32_t>{-7}, {});
  const NpyArray array = homeostat::io::read_npy(dir / "round_trip.npy");
  EXPECT_TRUE(array.shape.empty());
  EXPECT_EQ(array.size(), 1);
}

TEST(NpyRoundTrip, ZeroSize) {
  TempDir dir;
  expect_round_trip(dir, std::vector<float>{}, {0});
  expect_round_trip(dir, std::vector<std::int64_t>{}, {3, 0, 2});
  const NpyArray array = homeostat::io::read_npy(dir / "round_trip.npy");
  EXPECT_EQ(array.size(), 0);
  EXPECT_TRUE(array.data.empty());
  // No data at all is fine when there is nothing to write.
  const std::string bytes = homeostat::io::npy_bytes(DType::u1, {0, 5}, nullptr);
  EXPECT_EQ(homeostat::io::parse_npy(bytes, "x").shape, (std::vector<std::int64_t>{0, 5}));
}

TEST(NpyRoundTrip, WriteReplacesAndLeavesNoTemp) {
  TempDir dir;
  const auto path = dir / "sub" / "dir" / "a.npy";
  homeostat::io::write_npy(path, std::vector<double>{1, 2}, {2});
  homeostat::io::write_npy(path, std::vector<std::int32_t>{9}, {1});
  EXPECT_EQ(homeostat::io::read_npy(path).values<std::int32_t>(), std::vector<std::int32_t>{9});
  EXPECT_EQ(dir.entries(), std::set<std::string>{"sub"});
  std::set<std::string> inner;
  for (const auto& e : fs::directory_iterator(dir / "sub" / "dir")) inner.insert(e.path().filename().string());
  EXPECT_EQ(inner, std::set<std::string>{"a.npy"});
}

// ---- conversions ----

TEST(NpyValues, ConvertsBetweenDtypes) {
  const auto parse = [](DType dtype, const std::string& raw, std::int64_t n) {
    NpyArray a;
    a.dtype = dtype;
    a.shape = {n};
    a.data = raw;
    return a;
  };
  const NpyArray ints = parse(DType::i4, raw_bytes(std::vector<std::int32_t>{-3, 0, 7}), 3);
  EXPECT_EQ(ints.values<double>(), (std::vector<double>{-3, 0, 7}));
  EXPECT_EQ(ints.values<std::int64_t>(), (std::vector<std::int64_t>{-3, 0, 7}));
  EXPECT_EQ(ints.values<bool>(), (std::vector<bool>{true, false, true}));

  const NpyArray reals = parse(DType::f8, raw_bytes(std::vector<double>{-2.7, -0.5, 0.5, 2.7}), 4);
  EXPECT_EQ(reals.values<std::int32_t>(), (std::vector<std::int32_t>{-2, 0, 0, 2})) << "truncates toward zero";
  EXPECT_EQ(reals.values<float>(), (std::vector<float>{-2.7f, -0.5f, 0.5f, 2.7f}));

  // Any nonzero byte is true, and reads as 1.
  const NpyArray flags = parse(DType::b1, std::string("\x00\x01\x02", 3), 3);
  EXPECT_EQ(flags.values<std::int32_t>(), (std::vector<std::int32_t>{0, 1, 1}));
  EXPECT_EQ(flags.values<double>(), (std::vector<double>{0, 1, 1}));

  const NpyArray big = parse(DType::u4, raw_bytes(std::vector<std::uint32_t>{4294967295u}), 1);
  EXPECT_EQ(big.values<std::int64_t>(), std::vector<std::int64_t>{4294967295});
  const NpyArray small = parse(DType::i1, raw_bytes(std::vector<std::int8_t>{-5}), 1);
  EXPECT_EQ(small.values<float>(), std::vector<float>{-5});
}

TEST(NpyValues, RefusesValuesThatDoNotFit) {
  const auto array = [](DType dtype, const std::string& raw) {
    NpyArray a;
    a.dtype = dtype;
    a.shape = {1};
    a.data = raw;
    return a;
  };
  const NpyArray huge = array(DType::i8, raw_bytes(std::vector<std::int64_t>{5'000'000'000}));
  EXPECT_TRUE(contains(error_of<std::range_error>([&] { huge.values<std::int32_t>(); }), "<i4"));
  const NpyArray negative = array(DType::i4, raw_bytes(std::vector<std::int32_t>{-1}));
  EXPECT_THROW(negative.values<std::uint32_t>(), std::range_error);
  EXPECT_THROW(negative.values<std::uint8_t>(), std::range_error);
  const NpyArray nan = array(DType::f8, raw_bytes(std::vector<double>{std::nan("")}));
  EXPECT_THROW(nan.values<std::int64_t>(), std::range_error);
  EXPECT_EQ(nan.values<bool>(), std::vector<bool>{true});  // as numpy's astype(bool)
  const NpyArray too_big = array(DType::f8, raw_bytes(std::vector<double>{9.3e18}));
  EXPECT_THROW(too_big.values<std::int64_t>(), std::range_error);
  const NpyArray edge = array(DType::f8, raw_bytes(std::vector<double>{-9223372036854775808.0}));
  EXPECT_EQ(edge.values<std::int64_t>(), std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()});
  const NpyArray inconsistent = array(DType::f8, std::string(7, '\0'));
  EXPECT_THROW(inconsistent.values<double>(), std::runtime_error);
}

// ---- parse errors ----

TEST(NpyParse, RejectsBadMagic) {
  const std::vector<double> v = {1};
  std::string bytes = homeostat::io::npy_bytes(DType::f8, {1}, v.data());
  bytes[1] = 'X';
  const std::string message = parse_error(bytes, "runs/bad.npy");
  EXPECT_TRUE(contains(message, "runs/bad.npy"));
  EXPECT_TRUE(contains(message, "magic"));
  EXPECT_TRUE(contains(parse_error(""), "magic"));
  EXPECT_TRUE(contains(parse_error("PK\x03\x04 a zip, not an npy"), "magic"));
}

TEST(NpyParse, RejectsTruncatedOrOversizedData) {
  const std::vector<float> v = {1, 2, 3, 4};
  const std::string bytes = homeostat::io::npy_bytes(DType::f4, {2, 2}, v.data());
  const std::string short_message = parse_error(bytes.substr(0, bytes.size() - 1), "w.npy");
  EXPECT_TRUE(contains(short_message, "w.npy"));
  EXPECT_TRUE(contains(short_message, "truncated"));
  EXPECT_TRUE(contains(short_message, "15 bytes"));
  EXPECT_TRUE(contains(short_message, "16"));
  EXPECT_TRUE(contains(parse_error(bytes + "x", "w.npy"), "trailing"));
  // Cut inside the header, and inside the fixed prefix.
  EXPECT_TRUE(contains(parse_error(bytes.substr(0, 40), "w.npy"), "truncated .npy header"));
  EXPECT_TRUE(contains(parse_error(bytes.substr(0, 9), "w.npy"), "truncated .npy header"));
  EXPECT_TRUE(contains(parse_error(bytes.substr(0, 7), "w.npy"), "truncated .npy header"));
}

TEST(NpyParse, RejectsFortranOrder) {
  const std::string bytes = npy_with_header("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                            std::string(48, '\0'));
  const std::string message = parse_error(bytes, "f.npy");
  EXPECT_TRUE(contains(message, "f.npy"));
  EXPECT_TRUE(contains(message, "fortran_order"));
}

TEST(NpyParse, RejectsUnsupportedDtypes) {
  const auto with_descr = [](const std::string& descr, std::size_t bytes) {
    return npy_with_header("{'descr': " + descr + ", 'fortran_order': False, 'shape': (1,), }",
                           std::string(bytes, '\0'));
  };
  const std::string big_endian = parse_error(with_descr("'>f8'", 8), "d.npy");
  EXPECT_TRUE(contains(big_endian, "d.npy"));
  EXPECT_TRUE(contains(big_endian, "big-endian"));
  EXPECT_TRUE(contains(big_endian, ">f8"));
  for (const std::string descr : {"'<c16'", "'<U3'", "'<f2'", "'|O'", "'<u8'", "'|i4'", "'f8'", "''"}) {
    const std::string message = parse_error(with_descr(descr, 8), "d.npy");
    EXPECT_TRUE(contains(message, "d.npy"));
    EXPECT_TRUE(contains(message, "unsupported dtype " + descr)) << descr;
  }
  const std::string structured = parse_error(with_descr("[('a', '<i4'), ('b', '<f8')]", 12), "d.npy");
  EXPECT_TRUE(contains(structured, "unsupported dtype [('a', '<i4'), ('b', '<f8')]"));
  EXPECT_TRUE(contains(structured, "structured"));
  // One-byte types have no byte order: any marker is fine.
  for (const std::string descr : {"'<u1'", "'>i1'", "'=b1'", "'|u1'"}) {
    EXPECT_NO_THROW(homeostat::io::parse_npy(with_descr(descr, 1), "d.npy")) << descr;
  }
  EXPECT_EQ(homeostat::io::parse_npy(with_descr("'=i4'", 4), "d.npy").dtype, DType::i4);
}

TEST(NpyParse, RejectsMalformedHeaders) {
  const auto header = [](const std::string& dict) { return npy_with_header(dict, std::string(8, '\0')); };
  const struct {
    std::string dict, reason;
  } cases[] = {
      {"{'descr': '<f8', 'shape': (1,), }", "lacks 'fortran_order'"},
      {"{'descr': '<f8', 'fortran_order': False, }", "lacks 'shape'"},
      {"{'fortran_order': False, 'shape': (1,), }", "lacks 'descr'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", "unexpected key 'extra'"},
      {"{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", "not True/False"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': 1, }", "not a tuple"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': [1], }", "not a tuple"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1), }", "not a tuple"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': ('1',), }", "non-integer"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "negative"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "out of range"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "too large"},
      {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "duplicate key"},
      {"{'descr': '<f8' 'fortran_order': False, 'shape': (1,), }", "expected ','"},
      {"{'descr: '<f8', 'fortran_order': False, 'shape': (1,), }", "expected ':'"},
      {"{descr: '<f8', 'fortran_order': False, 'shape': (1,), }", "quoted key"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x", "after the dict"},
      {"{'descr': '<f8', 'fortran_order': Nope, 'shape': (1,), }", "unexpected character 'N'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': " + std::string(40, '(') + "1,), }", "too deep"},
      {"not a dict", "expected '{'"},
      {"", "expected '{'"},
  };
  for (const auto& c : cases) {
    const std::string message = parse_error(header(c.dict), "h.npy");
    EXPECT_TRUE(contains(message, "h.npy")) << c.dict;
    EXPECT_TRUE(contains(message, c.reason)) << c.dict;
  }
}

TEST(NpyParse, RejectsUnknownVersions) {
  for (const auto& [major, minor] : {std::pair{3, 0}, std::pair{1, 1}, std::pair{0, 0}}) {
    std::string bytes = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                                        std::string(8, '\0'));
    bytes[6] = static_cast<char>(major);
    bytes[7] = static_cast<char>(minor);
    const std::string message = parse_error(bytes, "v.npy");
    EXPECT_TRUE(contains(message, "v.npy"));
    EXPECT_TRUE(contains(message, "version " + std::to_string(major) + "." + std::to_string(minor)));
  }
}

TEST(NpyParse, AcceptsVersion2AndOtherSpellings) {
  const std::vector<std::int32_t> v = {1, -2, 3};
  const auto v2 = homeostat::io::parse_npy(
      npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", raw_bytes(v), 2), "v2.npy");
  EXPECT_EQ(v2.values<std::int32_t>(), v);
  // Key order, double quotes, Python 2 longs, no trailing comma, extra spaces.
  const auto odd = homeostat::io::parse_npy(
      npy_with_header("{ \"shape\" : ( 3L , ) ,\"fortran_order\":False,'descr':\"<i4\"}", raw_bytes(v)), "odd.npy");
  EXPECT_EQ(odd.shape, std::vector<std::int64_t>{3});
  EXPECT_EQ(odd.values<std::int32_t>(), v);
  const auto multi = homeostat::io::parse_npy(
      npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1,3)}", raw_bytes(v)), "m.npy");
  EXPECT_EQ(multi.shape, (std::vector<std::int64_t>{1, 3}));
}

TEST(NpyRead, MissingFileNamesPathAndReason) {
  TempDir dir;
  const auto path = dir / "absent.npy";
  const std::string message = error_of([&] { homeostat::io::read_npy(path); });
  EXPECT_TRUE(contains(message, path.string()));
  EXPECT_TRUE(contains(message, std::strerror(ENOENT)));
}

// ---- npz ----

TEST(NpzRoundTrip, ArraysOfEveryKind) {
  TempDir dir;
  NpzWriter writer;
  writer.add("rates", f8_values, {2, 3});
  writer.add("ids", i8_values, {6});
  writer.add("mask", DType::b1, {2, 3}, b1_values.data());
  writer.add("scalar", std::vector<float>{2.5f}, {});
  writer.add("empty", std::vector<std::uint32_t>{}, {0, 3});
  writer.add("bytes", u1_values, {5});
  const auto path = dir / "out" / "run.npz";
  writer.write(path);
  EXPECT_EQ(dir.entries(), std::set<std::string>{"out"});

  const auto arrays = homeostat::io::read_npz(path);
  ASSERT_EQ(arrays.size(), 6u);
  expect_same_values(arrays.at("rates").values<double>(), f8_values);
  EXPECT_EQ(arrays.at("rates").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(arrays.at("ids").values<std::int64_t>(), i8_values);
  EXPECT_EQ(arrays.at("mask").dtype, DType::b1);
  EXPECT_EQ(arrays.at("mask").values<std::uint8_t>(), b1_values);
  EXPECT_TRUE(arrays.at("scalar").shape.empty());
  EXPECT_EQ(arrays.at("scalar").values<float>(), std::vector<float>{2.5f});
  EXPECT_EQ(arrays.at("empty").shape, (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(arrays.at("empty").dtype, DType::u4);
  EXPECT_EQ(arrays.at("bytes").values<std::uint8_t>(), u1_values);
}

TEST(NpzRoundTrip, EntriesAreDeflatedNpyFiles) {
  TempDir dir;
  NpzWriter writer;
  writer.add("zeros", std::vector<double>(10000, 0.0), {10000});
  const auto path = dir / "z.npz";
  writer.write(path);
  EXPECT_LT(fs::file_size(path), 2000u) << "compressed";

  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
  ASSERT_NE(archive, nullptr) << error;
  ASSERT_EQ(zip_get_num_entries(archive, 0), 1);
  zip_stat_t stat;
  ASSERT_EQ(zip_stat_index(archive, 0, 0, &stat), 0);
  EXPECT_STREQ(stat.name, "zeros.npy");
  EXPECT_EQ(stat.comp_method, ZIP_CM_DEFLATE);
  EXPECT_EQ(stat.size, 128u + 80000u);
  zip_discard(archive);
}

TEST(NpzRoundTrip, SameArraysGiveSameBytes) {
  TempDir dir;
  NpzWriter writer;
  writer.add("a", i4_values, {6});
  writer.add("b", f4_values, {3, 2});
  writer.write(dir / "1.npz");
  writer.write(dir / "2.npz");
  EXPECT_EQ(homeostat::io::read_file(dir / "1.npz"), homeostat::io::read_file(dir / "2.npz"));
}

TEST(NpzRoundTrip, EmptyArchive) {
  TempDir dir;
  NpzWriter().write(dir / "empty.npz");
  EXPECT_TRUE(homeostat::io::read_npz(dir / "empty.npz").empty());
}

TEST(NpzWriter, RejectsDuplicateAndEmptyNames) {
  NpzWriter writer;
  writer.add("x", std::vector<double>{1}, {1});
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { writer.add("x", std::vector<double>{2}, {1}); }),
                       "'x'"));
  EXPECT_THROW(writer.add("", std::vector<double>{2}, {1}), std::invalid_argument);
}

TEST(NpzWriter, ReplacesExistingFileAtomically) {
  TempDir dir;
  const auto path = dir / "r.npz";
  write_raw(path, "old contents");
  NpzWriter writer;
  writer.add("v", std::vector<std::int32_t>{4, 5}, {2});
  writer.write(path);
  EXPECT_EQ(homeostat::io::read_npz(path).at("v").values<std::int32_t>(), (std::vector<std::int32_t>{4, 5}));
  EXPECT_EQ(dir.entries(), std::set<std::string>{"r.npz"});
}

TEST(NpzRead, CorruptArchivesNameTheFile) {
  TempDir dir;
  NpzWriter writer;
  std::vector<double> noise(5000);
  std::mt19937_64 rng(1);
  for (auto& x : noise) x = std::uniform_real_distribution<double>()(rng);
  writer.add("noise", noise, {5000});
  writer.add("small", std::vector<std::int32_t>{1, 2, 3}, {3});
  const auto good = dir / "good.npz";
  writer.write(good);
  const std::string bytes = homeostat::io::read_file(good);

  const auto truncated = dir / "truncated.npz";
  write_raw(truncated, bytes.substr(0, bytes.size() / 2));
  const std::string truncated_message = error_of([&] { homeostat::io::read_npz(truncated); });
  EXPECT_TRUE(contains(truncated_message, truncated.string()));
  EXPECT_TRUE(contains(truncated_message, "truncated or corrupt"));

  const auto tail_cut = dir / "tail_cut.npz";
  write_raw(tail_cut, bytes.substr(0, bytes.size() - 10));
  EXPECT_TRUE(contains(error_of([&] { homeostat::io::read_npz(tail_cut); }), tail_cut.string()));

  const auto not_zip = dir / "not_zip.npz";
  write_raw(not_zip, "this is not a zip archive at all");
  const std::string not_zip_message = error_of([&] { homeostat::io::read_npz(not_zip); });
  EXPECT_TRUE(contains(not_zip_message, not_zip.string()));
  EXPECT_TRUE(contains(not_zip_message, "Not a zip archive"));

  // Damage inside the compressed data of the first entry: the archive opens,
  // reading the entry fails (inflate or CRC) and names the entry.
  std::string damaged_bytes = bytes;
  for (std::size_t i = 200; i < 260; ++i) damaged_bytes[i] = static_cast<char>(damaged_bytes[i] ^ 0x5a);
  const auto damaged = dir / "damaged.npz";
  write_raw(damaged, damaged_bytes);
  EXPECT_TRUE(contains(error_of([&] { homeostat::io::read_npz(damaged); }), damaged.string() + ":noise"));

  const auto missing = dir / "missing.npz";
  const std::string missing_message = error_of([&] { homeostat::io::read_npz(missing); });
  EXPECT_TRUE(contains(missing_message, missing.string()));
  EXPECT_TRUE(contains(missing_message, "No such file"));
}

TEST(NpzRead, BadEntryIsNamedFileColonArray) {
  TempDir dir;
  const auto path = dir / "bad.npz";
  const std::string garbage = "definitely not an npy";
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr);
  zip_source_t* source = zip_source_buffer(archive, garbage.data(), garbage.size(), 0);
  ASSERT_NE(source, nullptr);
  ASSERT_GE(zip_file_add(archive, "weights.npy", source, 0), 0);
  ASSERT_EQ(zip_close(archive), 0);
  const std::string message = error_of([&] { homeostat::io::read_npz(path); });
  EXPECT_TRUE(contains(message, path.string() + ":weights"));
  EXPECT_TRUE(contains(message, "magic"));
}

// ---- atomic files ----

TEST(AtomicFile, CommitWritesTheFileAndNoTempRemains) {
  TempDir dir;
  const auto path = dir / "out.txt";
  {
    AtomicFile file(path);
    EXPECT_EQ(file.temp_path(), dir / (".out.txt.homeostat-tmp." + std::to_string(::getpid())));
    EXPECT_EQ(file.temp_path(), homeostat::io::temp_path(path));
    file.stream() << "hello\n" << 42;
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(file.temp_path()));
    file.commit();
    EXPECT_FALSE(fs::exists(file.temp_path()));
  }
  EXPECT_EQ(homeostat::io::read_file(path), "hello\n42");
  EXPECT_EQ(dir.entries(), std::set<std::string>{"out.txt"});
}

TEST(AtomicFile, DestroyedWithoutCommitLeavesNothing) {
  TempDir dir;
  const auto path = dir / "abandoned.txt";
  {
    AtomicFile file(path);
    file.stream() << "partial";
    file.stream().flush();
    EXPECT_TRUE(fs::exists(file.temp_path()));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFile, ExistingFileIsUnchangedUntilCommit) {
  TempDir dir;
  const auto path = dir / "data.txt";
  write_raw(path, "old");
  {
    AtomicFile file(path);
    file.stream() << "new and longer";
    file.stream().flush();
    EXPECT_EQ(homeostat::io::read_file(path), "old");
  }
  EXPECT_EQ(homeostat::io::read_file(path), "old") << "abandoned write";
  AtomicFile file(path);
  file.stream() << "new and longer";
  file.stream().flush();
  EXPECT_EQ(homeostat::io::read_file(path), "old");
  file.commit();
  EXPECT_EQ(homeostat::io::read_file(path), "new and longer");
  EXPECT_EQ(dir.entries(), std::set<std::string>{"data.txt"});
}

TEST(AtomicFile, CreatesParentDirectories) {
  TempDir dir;
  const auto path = dir / "a" / "b" / "c" / "f.bin";
  AtomicFile file(path);
  file.stream().write("\0\1\2", 3);
  file.commit();
  EXPECT_EQ(homeostat::io::read_file(path), std::string("\0\1\2", 3));
}

TEST(AtomicFile, ErrorsNameThePath) {
  TempDir dir;
  write_raw(dir / "plain", "a file, not a directory");
  const auto path = dir / "plain" / "child.txt";
  const std::string message = error_of([&] { AtomicFile file(path); });
  EXPECT_TRUE(contains(message, (dir / "plain").string()));

  AtomicFile file(dir / "twice.txt");
  file.commit();
  EXPECT_TRUE(contains(error_of([&] { file.commit(); }), "twice.txt"));
  EXPECT_EQ(homeostat::io::read_file(dir / "twice.txt"), "");
}

TEST(AtomicFile, FailedStreamMakesCommitThrow) {
  TempDir dir;
  const auto path = dir / "failed.txt";
  {
    AtomicFile file(path);
    file.stream().setstate(std::ios::badbit);
    EXPECT_TRUE(contains(error_of([&] { file.commit(); }), file.temp_path().string()));
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFile, WriteFileAtomic) {
  TempDir dir;
  const auto path = dir / "x" / "y.bin";
  std::string bytes(100000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  homeostat::io::write_file_atomic(path, bytes);
  EXPECT_EQ(homeostat::io::read_file(path), bytes);
  homeostat::io::write_file_atomic(path, "short");
  EXPECT_EQ(homeostat::io::read_file(path), "short");
  homeostat::io::write_file_atomic(path, "");
  EXPECT_EQ(homeostat::io::read_file(path), "");
  std::set<std::string> inner;
  for (const auto& e : fs::directory_iterator(dir / "x")) inner.insert(e.path().filename().string());
  EXPECT_EQ(inner, std::set<std::string>{"y.bin"});

  write_raw(dir / "plain", "");
  const auto bad = dir / "plain" / "z.bin";
  EXPECT_TRUE(contains(error_of([&] { homeostat::io::write_file_atomic(bad, "z"); }), (dir / "plain").string()));
  // A directory in the way of the rename: the error names both paths and no temp remains.
  fs::create_directories(dir / "occupied" / "inside");
  const std::string rename_message =
      error_of([&] { homeostat::io::write_file_atomic(dir / "occupied", "z"); });
  EXPECT_TRUE(contains(rename_message, (dir / "occupied").string()));
  EXPECT_TRUE(contains(rename_message, std::strerror(EISDIR)));
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"occupied", "plain", "x"}));
}

TEST(AtomicFile, ReadFileErrorsNameThePath) {
  TempDir dir;
  const std::string missing = error_of([&] { homeostat::io::read_file(dir / "nope"); });
  EXPECT_TRUE(contains(missing, (dir / "nope").string()));
  EXPECT_TRUE(contains(missing, std::strerror(ENOENT)));
  const std::string directory = error_of([&] { homeostat::io::read_file(dir.path()); });
  EXPECT_TRUE(contains(directory, dir.path().string()));
  EXPECT_TRUE(contains(directory, "it is a directory, not a file"));
  // A named pipe nobody writes to is an error at once, not a wait.
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string pipe = error_of([&] { homeostat::io::read_file(fifo); });
  EXPECT_TRUE(contains(pipe, fifo.string()));
  EXPECT_TRUE(contains(pipe, "a named pipe and nothing was written to it"));
  const std::string seekable = error_of([&] { homeostat::io::require_regular_file(fifo); });
  EXPECT_TRUE(contains(seekable, "it is a named pipe, not a file"));
}

// ---- streaming writer ----

TEST(NpyStreamWriter, OutOfOrderSlabsGiveTheRightFile) {
  TempDir dir;
  const auto path = dir / "stream" / "v.npy";
  std::vector<float> expected(4 * 3);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<float>(i) * 1.5f - 4;
  {
    NpyStreamWriter writer(path, DType::f4, {4, 3});
    for (const int row : {2, 0, 3, 1}) writer.write(row * 3, expected.data() + row * 3, 3);
    writer.write(4, expected.data() + 4, 0);
    EXPECT_FALSE(fs::exists(path));
    writer.commit();
  }
  const std::string bytes = homeostat::io::read_file(path);
  EXPECT_EQ(bytes, homeostat::io::npy_bytes(DType::f4, {4, 3}, expected.data()));
  const NpyArray array = homeostat::io::read_npy(path);
  EXPECT_EQ(array.shape, (std::vector<std::int64_t>{4, 3}));
  EXPECT_EQ(array.values<float>(), expected);
  std::set<std::string> inner;
  for (const auto& e : fs::directory_iterator(dir / "stream")) inner.insert(e.path().filename().string());
  EXPECT_EQ(inner, std::set<std::string>{"v.npy"});
}

TEST(NpyStreamWriter, UnwrittenSlabsAreZero) {
  TempDir dir;
  const auto path = dir / "sparse.npy";
  const std::vector<std::int64_t> slab = {7, 8};
  {
    NpyStreamWriter writer(path, DType::i8, {10, 2});
    writer.write(12, slab.data(), 2);  // overlapping rewrites: the last one wins
    writer.write(13, slab.data(), 2);
    writer.commit();
  }
  std::vector<std::int64_t> expected(20, 0);
  expected[12] = 7;
  expected[13] = 7;
  expected[14] = 8;
  EXPECT_EQ(fs::file_size(path), 128u + 20u * 8u);
  EXPECT_EQ(homeostat::io::read_file(path), homeostat::io::npy_bytes(DType::i8, {10, 2}, expected.data()));
}

TEST(NpyStreamWriter, NothingWrittenAndDegenerateShapes) {
  TempDir dir;
  {
    NpyStreamWriter writer(dir / "zeros.npy", DType::f8, {3});
    writer.commit();
  }
  EXPECT_EQ(homeostat::io::read_npy(dir / "zeros.npy").values<double>(), std::vector<double>(3, 0.0));
  {
    NpyStreamWriter writer(dir / "scalar.npy", DType::u4, {});
    const std::uint32_t x = 99;
    writer.write(0, &x, 1);
    writer.commit();
  }
  const NpyArray scalar = homeostat::io::read_npy(dir / "scalar.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values<std::uint32_t>(), std::vector<std::uint32_t>{99});
  {
    NpyStreamWriter writer(dir / "empty.npy", DType::b1, {5, 0});
    writer.commit();
  }
  EXPECT_EQ(homeostat::io::read_npy(dir / "empty.npy").shape, (std::vector<std::int64_t>{5, 0}));
}

TEST(NpyStreamWriter, DestroyedWithoutCommitLeavesTargetAlone) {
  TempDir dir;
  const auto path = dir / "keep.npy";
  write_raw(path, "previous");
  {
    NpyStreamWriter writer(path, DType::f8, {1000});
    const double x = 1;
    writer.write(0, &x, 1);
    EXPECT_EQ(dir.entries().size(), 2u) << "the temp file exists while writing";
  }
  EXPECT_EQ(homeostat::io::read_file(path), "previous");
  EXPECT_EQ(dir.entries(), std::set<std::string>{"keep.npy"});
}

TEST(NpyStreamWriter, RejectsWritesOutsideTheArray) {
  TempDir dir;
  NpyStreamWriter writer(dir / "r.npy", DType::i4, {2, 2});
  const std::vector<std::int32_t> v = {1, 2, 3, 4, 5};
  EXPECT_TRUE(contains(error_of<std::out_of_range>([&] { writer.write(2, v.data(), 3); }), "r.npy"));
  EXPECT_THROW(writer.write(-1, v.data(), 1), std::out_of_range);
  EXPECT_THROW(writer.write(0, v.data(), -1), std::out_of_range);
  EXPECT_THROW(writer.write(0, v.data(), 5), std::out_of_range);
  EXPECT_THROW(writer.write(std::numeric_limits<std::int64_t>::max(), v.data(), 1), std::out_of_range);
  EXPECT_THROW(writer.write(0, nullptr, 1), std::invalid_argument);
  writer.write(0, v.data(), 4);
  writer.commit();
  EXPECT_EQ(homeostat::io::read_npy(dir / "r.npy").values<std::int32_t>(), (std::vector<std::int32_t>{1, 2, 3, 4}));
  EXPECT_THROW(NpyStreamWriter(dir / "neg.npy", DType::i4, {-2}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "neg.npy"));
}

// ---- interop with numpy ----

TEST(NpyInterop, NumpyLoadsOurFiles) {
  if (!numpy_available()) GTEST_SKIP() << system_python << " with numpy is not installed";
  TempDir dir;
  homeostat::io::write_npy(dir / "b1.npy", DType::b1, {2, 3}, b1_values.data());
  homeostat::io::write_npy(dir / "u1.npy", u1_values, {5});
  homeostat::io::write_npy(dir / "i1.npy", i1_values, {5});
  homeostat::io::write_npy(dir / "i4.npy", i4_values, {2, 3});
  homeostat::io::write_npy(dir / "i8.npy", i8_values, {3, 2});
  homeostat::io::write_npy(dir / "u4.npy", u4_values, {2, 2});
  homeostat::io::write_npy(dir / "f4.npy", f4_values, {6});
  homeostat::io::write_npy(dir / "f8.npy", f8_values, {2, 1, 3});
  homeostat::io::write_npy(dir / "scalar.npy", std::vector<double>{3.5}, {});
  homeostat::io::write_npy(dir / "empty.npy", std::vector<float>{}, {3, 0, 2});
  {
    NpyStreamWriter writer(dir / "stream.npy", DType::i4, {3, 2});
    const std::vector<std::int32_t> row = {5, 6};
    writer.write(2, row.data(), 2);
    writer.commit();
  }
  NpzWriter npz;
  npz.add("rates", f8_values, {2, 3});
  npz.add("ids", i8_values, {6});
  npz.add("mask", DType::b1, {}, b1_values.data());
  npz.add("empty", std::vector<float>{}, {0, 3});
  npz.add("zeros", std::vector<double>(1000, 0.0), {1000});
  npz.write(dir / "arrays.npz");
  NpzWriter().write(dir / "none.npz");

  const std::string script = R"PY(
import os, sys, zipfile
import numpy as np
d = sys.argv[1]
inf, nan = float("inf"), float("nan")
expected = {
    "b1": np.array([[True, False, False], [True, False, False]], dtype="|b1"),
    "u1": np.array([0, 1, 127, 128, 255], dtype="|u1"),
    "i1": np.array([-128, -1, 0, 1, 127], dtype="|i1"),
    "i4": np.array([[-2**31, -1, 0], [1, 2**31 - 1, 123456]], dtype="<i4"),
    "i8": np.array([[-2**63, -1], [0, 1], [2**63 - 1, 2**40]], dtype="<i8"),
    "u4": np.array([[0, 1], [2**31, 2**32 - 1]], dtype="<u4"),
    "f4": np.array([0.5, -1.25, 3e38, -0.0, inf, nan], dtype="<f4"),
    "f8": np.array([0.1, -2.5, 1e300, 5e-324, -inf, nan], dtype="<f8").reshape(2, 1, 3),
    "scalar": np.array(3.5, dtype="<f8"),
    "empty": np.zeros((3, 0, 2), dtype="<f4"),
    "stream": np.array([[0, 0], [5, 6], [0, 0]], dtype="<i4"),
}
def same(name, got, want):
    ok = got.dtype.str == want.dtype.str and got.shape == want.shape and got.tobytes() == want.tobytes()
    if not ok:
        print(f"{name}: got {got.dtype.str} {got.shape} {got!r}, want {want.dtype.str} {want.shape} {want!r}")
    return ok
ok = True
for name, want in expected.items():
    ok &= same(name, np.load(os.path.join(d, name + ".npy")), want)
with np.load(os.path.join(d, "arrays.npz")) as z:
    if sorted(z.files) != ["empty", "ids", "mask", "rates", "zeros"]:
        print("npz files", z.files); ok = False
    ok &= same("rates", z["rates"], expected["f8"].reshape(2, 3))
    ok &= same("ids", z["ids"], expected["i8"].reshape(6))
    ok &= same("mask", z["mask"], np.array(True))
    ok &= same("empty", z["empty"], np.zeros((0, 3), dtype="<f4"))
    ok &= same("zeros", z["zeros"], np.zeros(1000))
with zipfile.ZipFile(os.path.join(d, "arrays.npz")) as z:
    if z.testzip() is not None:
        print("bad crc"); ok = False
    for info in z.infolist():
        if info.compress_type != zipfile.ZIP_DEFLATED:
            print(info.filename, "not deflated"); ok = False
with np.load(os.path.join(d, "none.npz")) as z:
    if z.files != []:
        print("none.npz", z.files); ok = False
sys.exit(0 if ok else 1)
)PY";
  std::string log;
  EXPECT_EQ(run_python(dir, script, log), 0) << log;
}

TEST(NpyInterop, WeLoadNumpysFiles) {
  if (!numpy_available()) GTEST_SKIP() << system_python << " with numpy is not installed";
  TempDir dir;
  const std::string script = R"PY(
import os, sys
import numpy as np
d = sys.argv[1]
inf, nan = float("inf"), float("nan")
arrays = {
    "b1": np.array([[True, False, False], [True, False, False]]),
    "u1": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
    "i1": np.array([-128, -1, 0, 1, 127], dtype=np.int8),
    "i4": np.array([[-2**31, -1, 0], [1, 2**31 - 1, 123456]], dtype=np.int32),
    "i8": np.array([[-2**63, -1], [0, 1], [2**63 - 1, 2**40]], dtype=np.int64),
    "u4": np.array([[0, 1], [2**31, 2**32 - 1]], dtype=np.uint32),
    "f4": np.array([0.5, -1.25, 3e38, -0.0, inf, nan], dtype=np.float32),
    "f8": np.array([0.1, -2.5, 1e300, 5e-324, -inf, nan]).reshape(2, 1, 3),
    "scalar": np.array(3.5),
    "empty": np.zeros((3, 0, 2), dtype=np.float32),
    "sliced": np.arange(24, dtype=np.int64).reshape(4, 6)[::2, 1::2],
}
for name, a in arrays.items():
    np.save(os.path.join(d, name + ".npy"), a)
np.savez_compressed(os.path.join(d, "compressed.npz"), rates=arrays["f8"], ids=arrays["i8"],
                    flag=np.array(False), nothing=np.zeros((0,), dtype=np.int32))
np.savez(os.path.join(d, "stored.npz"), arrays["u4"], counts=arrays["i4"])
np.savez_compressed(os.path.join(d, "none.npz"))
with open(os.path.join(d, "v2.npy"), "wb") as f:
    np.lib.format.write_array(f, arrays["i4"], version=(2, 0))
np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save(os.path.join(d, "big_endian.npy"), np.arange(3, dtype=">f8"))
np.save(os.path.join(d, "unicode.npy"), np.array(["ab", "c"]))
np.save(os.path.join(d, "structured.npy"), np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
np.save(os.path.join(d, "half.npy"), np.zeros(2, dtype=np.float16))
)PY";
  std::string log;
  ASSERT_EQ(run_python(dir, script, log), 0) << log;

  const auto load = [&](const std::string& name) { return homeostat::io::read_npy(dir / (name + ".npy")); };
  const auto b1 = load("b1");
  EXPECT_EQ(b1.dtype, DType::b1);
  EXPECT_EQ(b1.values<std::uint8_t>(), b1_values);
  EXPECT_EQ(load("u1").values<std::uint8_t>(), u1_values);
  EXPECT_EQ(load("u1").dtype, DType::u1);
  EXPECT_EQ(load("i1").values<std::int8_t>(), i1_values);
  EXPECT_EQ(load("i4").values<std::int32_t>(), i4_values);
  EXPECT_EQ(load("i4").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(load("i8").values<std::int64_t>(), i8_values);
  EXPECT_EQ(load("u4").values<std::uint32_t>(), u4_values);
  EXPECT_EQ(load("u4").dtype, DType::u4);
  expect_same_values(load("f4").values<float>(), f4_values);
  const auto f8 = load("f8");
  EXPECT_EQ(f8.shape, (std::vector<std::int64_t>{2, 1, 3}));
  expect_same_values(f8.values<double>(), f8_values);
  const auto scalar = load("scalar");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values<double>(), std::vector<double>{3.5});
  const auto empty = load("empty");
  EXPECT_EQ(empty.shape, (std::vector<std::int64_t>{3, 0, 2}));
  EXPECT_EQ(empty.dtype, DType::f4);
  EXPECT_TRUE(empty.values<float>().empty());
  // A non-contiguous view is saved in C order.
  EXPECT_EQ(load("sliced").values<std::int64_t>(), (std::vector<std::int64_t>{1, 3, 5, 13, 15, 17}));
  EXPECT_EQ(load("v2").values<std::int32_t>(), i4_values);

  const auto compressed = homeostat::io::read_npz(dir / "compressed.npz");
  ASSERT_EQ(compressed.size(), 4u);
  expect_same_values(compressed.at("rates").values<double>(), f8_values);
  EXPECT_EQ(compressed.at("ids").values<std::int64_t>(), i8_values);
  EXPECT_TRUE(compressed.at("flag").shape.empty());
  EXPECT_EQ(compressed.at("flag").values<bool>(), std::vector<bool>{false});
  EXPECT_EQ(compressed.at("nothing").shape, std::vector<std::int64_t>{0});
  const auto stored = homeostat::io::read_npz(dir / "stored.npz");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored.at("arr_0").values<std::uint32_t>(), u4_values);
  EXPECT_EQ(stored.at("counts").values<std::int32_t>(), i4_values);
  EXPECT_TRUE(homeostat::io::read_npz(dir / "none.npz").empty());

  const auto refusal = [&](const std::string& name) {
    return error_of([&] { load(name); });
  };
  const std::string fortran = refusal("fortran");
  EXPECT_TRUE(contains(fortran, (dir / "fortran.npy").string()));
  EXPECT_TRUE(contains(fortran, "fortran_order"));
  EXPECT_TRUE(contains(refusal("big_endian"), "big-endian dtype '>f8'"));
  EXPECT_TRUE(contains(refusal("unicode"), "unsupported dtype '<U2'"));
  EXPECT_TRUE(contains(refusal("structured"), "unsupported dtype [('a', '<i4'), ('b', '<f8')]"));
  EXPECT_TRUE(contains(refusal("half"), "unsupported dtype '<f2'"));
}

// ---- temporary files a killed writer leaves ----

namespace {

// The pid of a process that has exited and been reaped: no process has it
// (until the kernel hands it out again, which takes a full pid cycle).
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

TEST(TempFiles, NamesAreRecognisedWithTheirPid) {
  using homeostat::io::is_temp_name;
  long pid = 0;
  EXPECT_TRUE(is_temp_name(".weights.npy.homeostat-tmp.4242", &pid));
  EXPECT_EQ(pid, 4242);
  EXPECT_TRUE(is_temp_name(homeostat::io::temp_path("dir/x.png").filename().string(), &pid));
  EXPECT_EQ(pid, ::getpid());
  // The names of earlier versions, which a run from before may still hold.
  EXPECT_TRUE(is_temp_name("metrics.csv.tmp.17", &pid));
  EXPECT_EQ(pid, 17);
  EXPECT_TRUE(is_temp_name("output_raster.tmp.99.png", &pid));
  EXPECT_EQ(pid, 99);
  for (const char* other : {"weights.npy", ".hidden", ".x.homeostat-tmp.", ".x.homeostat-tmp.12a", "x.homeostat-tmp.5",
                            "notes.tmp.txt", "a.tmp.-3", ".homeostat-tmp.5", "events.out.tfevents.17.homeostat"}) {
    EXPECT_FALSE(is_temp_name(other, &pid)) << other;
    EXPECT_EQ(pid, -1) << other;
  }
}

TEST(TempFiles, RemoveStaleTakesOnlyTheTempsOfDeadProcessesAndOurOwn) {
  TempDir dir;
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getppid());  // the test runner: alive, not us
  const std::string self = std::to_string(::getpid());
  fs::create_directories(dir / "figures" / "chunk_0001");
  const std::vector<fs::path> stale = {dir / ("results/.output_spikes.npy.homeostat-tmp." + dead),
                                       dir / ("figures/chunk_0001/.loss.png.homeostat-tmp." + dead),
                                       dir / ("figures/raster.tmp." + dead + ".png"),
                                       dir / (".metadata.json.homeostat-tmp." + self)};
  const std::vector<fs::path> kept = {dir / ("results/.output_spikes.npy.homeostat-tmp." + live),
                                      dir / "results/output_spikes.npy", dir / "figures/chunk_0001/loss.png",
                                      dir / "notes.tmp.txt", dir / ".hidden"};
  for (const auto& p : stale) homeostat::io::write_file_atomic(p, "half");
  for (const auto& p : kept) homeostat::io::write_file_atomic(p, "whole");
  fs::create_directories(dir / (".dir.homeostat-tmp." + dead));  // not a file: left alone

  std::vector<fs::path> expected = stale;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(homeostat::io::remove_stale_temp_files(dir.path()), expected);
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  for (const auto& p : kept) EXPECT_EQ(homeostat::io::read_file(p), "whole") << p;
  EXPECT_TRUE(fs::is_directory(dir / (".dir.homeostat-tmp." + dead)));
  EXPECT_TRUE(homeostat::io::remove_stale_temp_files(dir.path()).empty());
  EXPECT_TRUE(homeostat::io::remove_stale_temp_files(dir / "absent").empty());
}

// ---- reading .npz files from elsewhere: bounded before inflating ----

namespace {

// A zip with one stored entry per (name, bytes), deflated.
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, nullptr);
  ASSERT_NE(archive, nullptr);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    ASSERT_NE(source, nullptr);
    const zip_int64_t index = zip_file_add(archive, name.c_str(), source, 0);
    ASSERT_GE(index, 0);
    ASSERT_EQ(zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 9), 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

}  // namespace

TEST(NpzLimits, ABombIsRefusedBeforeItIsInflated) {
  TempDir dir;
  const auto path = dir / "bomb.npz";
  // 16 MB of zeros behind a valid header: a ~16 KB file.
  const std::vector<std::int64_t> shape{2 << 20};
  const std::string bomb = homeostat::io::npy_bytes(DType::f8, shape, std::vector<double>(2 << 20, 0.0).data());
  write_zip(path, {{"recurrent_weights.npy", bomb}});
  ASSERT_LT(fs::file_size(path), std::uintmax_t{1} << 20);
  const std::string message =
      error_of([&] { homeostat::io::read_npz(path, {{"recurrent_weights", 100}}); });
  EXPECT_TRUE(contains(message, path.string() + ":recurrent_weights")) << message;
  EXPECT_TRUE(contains(message, "declares 16777344 bytes")) << message;
  EXPECT_TRUE(contains(message, "before inflating")) << message;
  // Unbounded, the same file reads (it is a valid .npz).
  EXPECT_EQ(homeostat::io::read_npz(path).at("recurrent_weights").size(), 2 << 20);
}

TEST(NpzLimits, AHeaderClaimingMoreThanExpectedIsRefusedBeforeItsData) {
  TempDir dir;
  const auto path = dir / "big.npz";
  // A header for a million elements, then a few bytes: small declared size.
  std::string lie = homeostat::io::npy_bytes(DType::f4, {1000000}, std::vector<float>(1000000).data());
  lie.resize(lie.size() - 4000000 + 16);
  write_zip(path, {{"w.npy", lie}});
  const std::string message = error_of([&] { homeostat::io::read_npz(path, {{"w", 1000}}); });
  EXPECT_TRUE(contains(message, path.string() + ":w")) << message;
  EXPECT_TRUE(contains(message, "(1000000,) holds 1000000 elements, more than the 1000 expected")) << message;
}

TEST(NpzLimits, ExpectedArraysWithinBoundsReadAndOthersAreSkipped) {
  TempDir dir;
  const auto path = dir / "ok.npz";
  NpzWriter npz;
  npz.add("a", std::vector<std::int32_t>{1, 2, 3}, {3});
  npz.add("unexpected", std::vector<double>(5000, 1.0), {5000});
  npz.write(path);
  const auto arrays = homeostat::io::read_npz(path, {{"a", 3}, {"absent", 10}});
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays.at("a").values<std::int32_t>(), (std::vector<std::int32_t>{1, 2, 3}));
  // One element fewer allowed than the array holds: refused, naming both.
  const std::string message = error_of([&] { homeostat::io::read_npz(path, {{"a", 2}}); });
  EXPECT_TRUE(contains(message, "holds 3 elements, more than the 2 expected")) << message;
}
