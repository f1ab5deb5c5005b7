#include "homeostat/parallel/ranks.hpp"

#include <concepts>
#include <cstring>
#include <span>
#include <stdexcept>
#include <type_traits>

namespace homeostat::parallel {

namespace {

// Vectors laid end to end, each after its length: what one rank sends.
class Packer {
 public:
  template <class T>
  void put(const std::vector<T>& v) {
    const std::uint64_t n = v.size();
    append(&n, sizeof n);
    append(v.data(), n * sizeof(T));
  }
  const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  void append(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<std::byte> bytes_;
};

// Reads what Packers wrote, in the same order.
class Unpacker {
 public:
  explicit Unpacker(std::span<const std::byte> bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }
  template <class T>
  void get(std::vector<T>& v) {
    std::uint64_t n = 0;
    take(&n, sizeof n);
    v.resize(n);
    take(v.data(), n * sizeof(T));
  }

 private:
  void take(void* p, std::size_t n) {
    if (n > bytes_.size() - at_) throw std::runtime_error("MPI gather: a rank's message ends early");
    if (n) std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
  }
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
};

// Every array of a trial's state or record, in one order for packing and unpacking.
template <class State, class F>
  requires std::same_as<std::remove_const_t<State>, TrialState<float>>
void each_array(State& s, F&& f) {
  f(s.v);
  f(s.refractory);
  f(s.g_rise);
  f(s.g_decay);
  f(s.last_spike);
}
template <class Record, class F>
  requires std::same_as<std::remove_const_t<Record>, TrialRecord>
void each_array(Record& r, F&& f) {
  f(r.spike_step);
  f(r.spike_neuron);
  f(r.input_step);
  f(r.input_neuron);
  f(r.voltages);
  f(r.conductances);
  f(r.currents);
  f(r.v_sum);
  f(r.v_sum_sq);
}

// Every rank's trials (consecutive in rank order) at rank 0, in trial order.
template <class Trial>
std::vector<Trial> gather_to_root(const MpiContext& mpi, const std::vector<Trial>& mine) {
  Packer p;
  for (const Trial& t : mine) each_array(t, [&](const auto& v) { p.put(v); });
  const std::vector<std::byte> all = mpi.gather(p.bytes(), 0);
  std::vector<Trial> out;
  for (Unpacker u(all); !u.done();) each_array(out.emplace_back(), [&](auto& v) { u.get(v); });
  return out;
}

}  // namespace

void MpiReduction::gather_loss_sums(LossSums<double>& sums) const {
  // Each is [trial][N], trial-major: the ranks' parts in rank order are the
  // batch's in trial order.
  for (std::vector<double>* v : {&sums.spikes, &sums.isi_count, &sums.isi_sum, &sums.isi_sum_sq, &sums.v_sum,
                                 &sums.v_sum_sq})
    *v = mpi_.allgather(*v);
}

AtomGradient MpiReduction::sum_atom_gradients(std::int64_t /*first_atom*/, std::vector<AtomGradient>& atoms) const {
  if (atoms.empty()) throw std::logic_error("MpiReduction: a rank without atoms");
  // Blocks of 512 kB: many in flight between the ranks, each small enough
  // for the caches while this rank adds its atoms to it.
  constexpr std::size_t block = std::size_t{1} << 16;
  const std::size_t sets = atoms[0].d_rec.size();
  AtomGradient sum;
  sum.d_rec.resize(sets);
  sum.d_ff.resize(sets);
  // `vector(a)`: one of an atom's vectors; the rank's atoms in atom order
  // onto the running sum of the atoms before them (rank 0 starts it with
  // its first atom's values), as one process adds every atom.
  auto add = [&](std::vector<double>& total, auto vector) {
    total.assign(vector(atoms[0]).size(), 0.0);
    mpi_.running_sum(total, block, [&](std::size_t offset, std::span<double> part, bool first) {
      const auto n = static_cast<std::int64_t>(part.size());
      double* to = part.data();
#pragma omp parallel for schedule(static)
      for (std::int64_t e = 0; e < n; ++e) {
        double s = first ? vector(atoms[0])[offset + e] : to[e] + vector(atoms[0])[offset + e];
        for (std::size_t k = 1; k < atoms.size(); ++k) s += vector(atoms[k])[offset + e];
        to[e] = s;
      }
    });
  };
  for (std::size_t c = 0; c < sets; ++c) {
    add(sum.d_rec[c], [c](const AtomGradient& a) -> const std::vector<double>& { return a.d_rec[c]; });
    add(sum.d_ff[c], [c](const AtomGradient& a) -> const std::vector<double>& { return a.d_ff[c]; });
  }
  return sum;
}

std::vector<TrialState<float>> gather_states(const MpiContext& mpi, const std::vector<TrialState<float>>& mine) {
  return gather_to_root(mpi, mine);
}

std::vector<TrialRecord> gather_records(const MpiContext& mpi, const std::vector<TrialRecord>& mine) {
  return gather_to_root(mpi, mine);
}

}  // namespace homeostat::parallel
