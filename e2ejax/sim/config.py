"""Detector settings of the fast simulation, with CMS reference values as defaults.

Every default is documented with its source in docs/SIMULATION.md. Units: GeV,
cm, radians, tesla.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DetectorConfig", "MATERIAL_ETA", "MATERIAL_X0"]

#: |eta| nodes and tracker material in front of ECAL in radiation lengths (piecewise linear).
MATERIAL_ETA = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
MATERIAL_X0 = (0.40, 0.55, 1.00, 1.80, 1.40, 1.00, 0.80)


class DetectorConfig(NamedTuple):
    """CMS-like detector parameters (all keyword-configurable via ``_replace``)."""

    field: float = 3.8  # solenoid field along z (T)
    beamspot_sigma_z: float = 3.5  # luminous region length, Gaussian sigma (cm)
    # ECAL
    ecal_radius: float = 129.0  # EB inner radius (cm)
    ecal_barrel_eta: float = 1.479  # EB / EE boundary
    ecal_endcap_z: float = 315.4  # EE front face |z| (cm)
    ecal_max_eta: float = 3.0
    moliere_radius: float = 2.2  # cm
    em_core_fraction_of_rm: float = 0.5  # profile scale a = 0.5 R_M: 3x3 holds ~92%, 5x5 ~97%
    ecal_stochastic: float = 0.028
    ecal_constant: float = 0.003
    eb_noise: float = 0.04  # per crystal (GeV)
    ee_noise: float = 0.15
    ecal_zs_sigmas: float = 4.0  # zero suppression threshold in units of the noise
    ecal_interaction_lengths: float = 1.1
    mip_ecal: float = 0.3  # GeV left by a MIP crossing ECAL
    # HCAL
    hcal_radius: float = 177.0  # HB inner radius (cm)
    hcal_barrel_half_length: float = 300.0  # |z| where HB ends (cm)
    hcal_endcap_z: float = 388.0  # HE front face |z| (cm)
    hcal_stochastic: float = 1.0
    hcal_constant: float = 0.05
    hadron_profile: float = 0.04  # lateral scale of hadron showers in HCAL (eta-phi units)
    hadron_ecal_profile: float = 0.02  # lateral scale of the part of a hadron shower in ECAL
    h_over_e_low: float = 0.55  # pion response at 1 GeV (relative to electrons)
    h_over_e_slope: float = 0.18  # response R(E) = 1 - (1 - h_over_e_low) * E^-slope
    hcal_noise: float = 0.25  # per tower (GeV)
    hcal_threshold: float = 0.8  # tower zero suppression (GeV)
    mip_hcal: float = 2.5  # GeV left by a muon in HCAL (mean)
    # tracker
    tracker_max_eta: float = 2.5
    tracker_inner_radius: float = 3.0  # where the material starts (cm)
    tracker_outer_radius: float = 110.0
    tracker_half_length: float = 280.0  # |z| where the tracker volume ends (cm)
    material_scale: float = 1.0  # multiplies MATERIAL_X0 (0 switches conversions and brem off)
    track_min_pt: float = 0.5
    eff_hadron: float = 0.90
    eff_electron: float = 0.95
    eff_muon: float = 0.99
    pt_res_barrel: float = 0.010  # sigma(pT)/pT at eta 0, rising linearly to +0.015 at |eta| 2.5
    pt_res_eta_slope: float = 0.015
    pt_res_curvature: float = 1.5e-4  # sigma(pT)/pT term proportional to pT (1/GeV)
    d0_res_high_pt: float = 0.0020  # cm (20 um)
    d0_res_low_pt: float = 0.0100  # cm at 1 GeV, scaling 1/pT (100 um)
    dz_res_high_pt: float = 0.0030
    dz_res_low_pt: float = 0.0150
    conversion_track_max_radius: float = 60.0  # conversion legs tracked only from inside this (cm)
    brem_slices: int = 4
    bpix_radii: tuple = (2.9, 6.8, 10.9)  # BPIX layers 1-3 (cm)
    bpix_half_length: float = 26.7  # cm
    bpix_hit_efficiency: float = 0.99
    bpix_min_pt: float = 0.1
    # reconstructed candidates
    pf_photon_min_e: float = 0.5
    pf_neutral_hadron_min_e: float = 1.0
    pf_hadron_raw_response: bool = True  # neutral hadron candidates keep the raw h/e response (jets need calibration)
    max_shower_spots_em: int = 200
    max_shower_spots_had: int = 100
