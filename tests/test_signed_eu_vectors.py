"""Interop with real public EU DCC test data: a kiosk must accept genuine HCERT codes.

Vectors copied verbatim from github.com/eu-digital-green-certificates/dgc-testdata
(Apache-2.0): AT/2DCode/raw/1.json (ES256, kid in the protected header) and
CH/2DCode/raw/1.json (PS256): the "PREFIX" QR text, the "TESTCTX.CERTIFICATE" DSC and the
"VALIDATIONCLOCK" at which the data set says the code is valid.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys

import pytest
from cryptography import x509

from firmware.signed import cose, envelope
from firmware.signed.trustlist import TrustList, key_from_certificate
from firmware.signed.verify import verify

AT_CODE = (
    "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOK.IR9B+9G4G50PHZF0AT4V22F/8X*G3M9JUPY0BX/KR96"
    "R/S09T./0LWTKD33236J3TA3M*4VV2 73-E3GG396B-43O058YIB73A*G3W19UEBY5:PI0EGSP4*2DN43U*0CEBQ"
    "/GXQFY73CIBC:G 7376BXBJBAJ UNFMJCRN0H3PQN*E33H3OA70M3FMJIJN523.K5QZ4A+2XEN QT QTHC31M3+E"
    "32R44$28A9H0D3ZCL4JMYAZ+S-A5$XKX6T2YC 35H/ITX8GL2-LH/CJTK96L6SR9MU9RFGJA6Q3QR$P2OIC0JVLA"
    "8J3ET3:H3A+2+33U SAAUOT3TPTO4UBZIC0JKQTL*QDKBO.AI9BVYTOCFOPS4IJCOT0$89NT2V457U8+9W2KQ-7L"
    "F9-DF07U$B97JJ1D7WKP/HLIJL8JF8JFHJP7NVDEBU1J*Z222E.GJ457661CFFTWM-8P2IUE7K*SSW613:9/:TT5"
    "IYQBTBU16R4I1A/9VRPJ-TS.7ZEM7MSVOCD4RG2L-TQJROXL2J:52J7F0Q10SMAP3CG3KHF0DWIH"
)
AT_DSC = (
    "MIIBvTCCAWOgAwIBAgIKAXk8i88OleLsuTAKBggqhkjOPQQDAjA2MRYwFAYDVQQDDA1BVCBER0MgQ1NDQSAxMQsw"
    "CQYDVQQGEwJBVDEPMA0GA1UECgwGQk1TR1BLMB4XDTIxMDUwNTEyNDEwNloXDTIzMDUwNTEyNDEwNlowPTERMA8G"
    "A1UEAwwIQVQgRFNDIDExCzAJBgNVBAYTAkFUMQ8wDQYDVQQKDAZCTVNHUEsxCjAIBgNVBAUTATEwWTATBgcqhkjO"
    "PQIBBggqhkjOPQMBBwNCAASt1Vz1rRuW1HqObUE9MDe7RzIk1gq4XW5GTyHuHTj5cFEn2Rge37+hINfCZZcozpwQ"
    "KdyaporPUP1TE7UWl0F3o1IwUDAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0OBBYEFO49y1ISb6cvXshLcp8UUp9VoGLQ"
    "MB8GA1UdIwQYMBaAFP7JKEOflGEvef2iMdtopsetwGGeMAoGCCqGSM49BAMCA0gAMEUCIQDG2opotWG8tJXN84ZZ"
    "qT6wUBz9KF8D+z9NukYvnUEQ3QIgdBLFSTSiDt0UJaDF6St2bkUQuVHW6fQbONd731/M4nc="
)
AT_CLOCK = "2021-05-06T18:00:00+00:00"
CH_CODE = (
    "HC1:NCFK60DG0/3WUWGSLKH47GO0Y%5S.PK%96L79CK-500XK0JCV496F3PYJ-982F3:OR2B8Y50.FK6ZK7:EDOL"
    "OPCO8F6%E3.DA%EOPC1G72A6YM86G7/F6/G80X6H%6946746T%6C46/96SF60R6FN8UPC0JCZ69FVCPD0LVC6JD8"
    "46Y96C463W5307+EDG8F3I80/D6$CBECSUER:C2$NS346$C2%E9VC- CSUE145GB8JA5B$D% D3IA4W5646646-9"
    "6:96.JCP9EJY8L/5M/5546.96SF63KC.SC4KCD3DX47B46IL6646H*6Z/ER2DD46JH8946JPCT3E5JDLA7$Q6946"
    "4W51S6..DX%DZJC2/DYOA$$E5$C JC3/D9Z95LEZED1ECW.C8WE2OA3ZAGY8MPCG/DU2DRB8MTA8+9$PC5$CUZC$"
    "$5Y$5FBB*10GBH A81QK UV-$SOGD1APAB4$5UV C-EWB4T*6H%QV/DAP9L7J3Y4O/WVI5IW3672HO-HV16IW3JH"
    "V-FI%WJCPBI8QTE008I+FPR01MYFA6EBN2SR3H+4KH1M9RCIM2 VV15REG 516N93SS70RBUCH-RJM2JMULZ6*/H"
    "BBW7W7:S2BU7T6PRTMF4ALUNEXH3P7 LE0YF0TGE461PBK9TD68HDIT4AIFD9NH14V%GBCONJOV$KN  C+3U-IT$"
    "SE-A2V+9UO9WYRJ4HN+M/Z5W$QEDT/8C:88OQ4DXOBBIQ453863NPW0EJXG8$GH1T 38C*UI6T /FCDC%6VLNOA6"
    "W6BEYJJUH2Z-SOJO1D7JMALD8 $1%5B.GH$7AQOHZ:K3BNO1"
)
CH_DSC = (
    "MIIH2zCCBcOgAwIBAgIQFHnc6J6Ei6YHfFexb5JeyjANBgkqhkiG9w0BAQsFADCBtzELMAkGA1UEBhMCQ0gxHjAc"
    "BgNVBGETFVZBVENILUNIRS0yMjEuMDMyLjU3MzE+MDwGA1UEChM1QnVuZGVzYW10IGZ1ZXIgSW5mb3JtYXRpayB1"
    "bmQgVGVsZWtvbW11bmlrYXRpb24gKEJJVCkxHTAbBgNVBAsTFFN3aXNzIEdvdmVybm1lbnQgUEtJMSkwJwYDVQQD"
    "EyBTd2lzcyBHb3Zlcm5tZW50IFJlZ3VsYXRlZCBDQSAwMjAeFw0yMTA1MjAxMDA0MzFaFw0yNDA1MjAxMDA0MzFa"
    "MIHvMQswCQYDVQQGEwJDSDENMAsGA1UECAwEQmVybjEPMA0GA1UEBwwGS8O2bml6MRowGAYDVQQPDBFHb3Zlcm5t"
    "ZW50IEVudGl0eTEeMBwGA1UEYRMVTlRSQ0gtQ0hFLTQ2Ny4wMjMuNTY4MSgwJgYDVQQKDB9CdW5kZXNhbXQgZsO8"
    "ciBHZXN1bmRoZWl0IChCQUcpMRQwEgYDVQQLDAtHRS0wMjIwLUJBRzEfMB0GA1UECwwWVGFza2ZvcmNlIEJBRyBD"
    "b3ZpZC0xOTEjMCEGA1UEAwwaQ09WSUQtY2VydGlmaWNhdGUtQ0gtMjEtMDUwggEiMA0GCSqGSIb3DQEBAQUAA4IB"
    "DwAwggEKAoIBAQC2T/nWy0ldTjxGoPaWHgh2zEWuOUl+ZMKsuvdxA0ReSsSgjc4RXw2ei0TVGNWZCuotNPTijGla"
    "VxsyiVe0kG27es6Is3BC/JURuP/FJzopPzhOnsYGjU/+SS6dj5WZpvodQJX+gZliax2JQ/86dM9fpbLp16UOGeuA"
    "cgO2Lvf9NKwbtmXVXqSbv4oiSMCRUIQOSRQPu5993gb4YFnQH0XUo5PQhwVA28ObTOVE5WgYWWY9LwNaWsse4h0x"
    "sHbzW6IONw36Q1S3utTLKPpMWBf1YKAQH/mZAExFppcrXN4NNo2SYLZLshbGExCwwFcnIB1sP0CdA5lzpdGMFq47"
    "uDPTAgMBAAGjggKnMIICozAoBgNVHREEITAfgR1jb3ZpZC16ZXJ0aWZpa2F0QGJhZy5hZG1pbi5jaDAOBgNVHQ8B"
    "Af8EBAMCB4AwgdcGA1UdIASBzzCBzDCByQYJYIV0AREDBQIOMIG7MEMGCCsGAQUFBwIBFjdodHRwOi8vd3d3LnBr"
    "aS5hZG1pbi5jaC9jcHMvQ1BTXzJfMTZfNzU2XzFfMTdfM181XzAucGRmMHQGCCsGAQUFBwICMGgMZlRoaXMgaXMg"
    "YSByZWd1bGF0ZWQgY2VydGlmaWNhdGUgZm9yIGxlZ2FsIHBlcnNvbnMgYXMgZGVmaW5lZCBieSB0aGUgU3dpc3Mg"
    "ZmVkZXJhbCBsYXcgU1IgOTQzLjAzIFplcnRFUzA+BgNVHR8ENzA1MDOgMaAvhi1odHRwOi8vd3d3LnBraS5hZG1p"
    "bi5jaC9jcmwvUmVndWxhdGVkQ0EwMi5jcmwwdwYIKwYBBQUHAQEEazBpMDkGCCsGAQUFBzAChi1odHRwOi8vd3d3"
    "LnBraS5hZG1pbi5jaC9haWEvUmVndWxhdGVkQ0EwMi5jcnQwLAYIKwYBBQUHMAGGIGh0dHA6Ly93d3cucGtpLmFk"
    "bWluLmNoL2FpYS9vY3NwMIGTBggrBgEFBQcBAwSBhjCBgzAKBggrBgEFBQcLAjAJBgcEAIvsSQECMAgGBgQAjkYB"
    "BDBLBgYEAI5GAQUwQTA/FjlodHRwOi8vd3d3LnBraS5hZG1pbi5jaC9jcHMvUERTLVNHUEtJX1JlZ3VsYXRlZF9D"
    "QV8wMi5wZGYTAkVOMBMGBgQAjkYBBjAJBgcEAI5GAQYCMB8GA1UdIwQYMBaAFDQLvvIVPqQPVwfiQWSLMhHRKQth"
    "MB0GA1UdDgQWBBQDPnlz5xXMMoIIYQ53zfWEowwrmzANBgkqhkiG9w0BAQsFAAOCAgEARz9ZkbJeioMVxbCLccCM"
    "u+0RI/EqXG/snWcD/L21yYPVcSvuCk1fBjPPjLYbnNldznC4oY+reO5hIbd7jZ/aUJzs1ihkcUrgWJTtARlDLtxw"
    "zikCj6qgsusGfncWG6zJzLU6F3DCpQlbgBaC+Sms7AXs3Z62iiEIwS5KzKBjZbA/IsVrAJJP40Fk5WhK/9KXwS/b"
    "mMnTJvsfDbVG+gtyDYNcUibSPS8i0z0qld5OJZNHb3nQuVGpQBcdnFQ1Pe8ZkENUrKTfNludyBDoOYNCMfbjMwk8"
    "aDO+1Z+4Cwc7RAi+NBOE+D8x1njyFkk13xY/0DK6jR8goZIsrY/j+VmliIBUFwUhGnGrQ3iBB87L+fCa0zdAowOO"
    "4iWGO7/q6jYpFrg7zQ5HQco8dgBITZUND0Vw5jC66FrWsnWwvwYoiBtwi7auIazFt+7GxSyrdQZFgi/mgVB0I0nF"
    "mNaKjIW7daovXxniI3iZPPF67wYV/C33HTgD3hUKuKNNWuOL9w/Tx5rQHsVU3JE/tsaee2039Oa0f2wIzZHLtvuS"
    "PxY6D7xe3iOD0o6rFHgV6fHzGFgPQPhLdvd3Lnwdarztn+5wO6oKRo4V9UjxQP8oqcGsl7LTKgZgnCSKsnmItmE1"
    "+cTH9qmlABaeJjSyG6EpPF+EESr4pX423E9ha67uNUVOYyI="
)
CH_CLOCK = "2021-06-28T19:03:57+02:00"

VECTORS = {
    "AT-ES256": (AT_CODE, AT_DSC, AT_CLOCK, "AT", "ES256"),
    "CH-PS256": (CH_CODE, CH_DSC, CH_CLOCK, "CH", "PS256"),
}


def _trust(dsc_b64: str) -> TrustList:
    cert = x509.load_der_x509_certificate(base64.b64decode(dsc_b64))
    return TrustList(1, (key_from_certificate(cert),))


def _at(clock: str) -> float:
    return dt.datetime.fromisoformat(clock).timestamp()


@pytest.mark.parametrize("name", VECTORS)
def test_real_eu_dcc_verifies_at_its_validation_clock(name):
    code, dsc, clock, country, alg = VECTORS[name]
    assert cose.decode_sign1(envelope.unwrap(code)).alg_name == alg
    result = verify(code, _trust(dsc), at=_at(clock))
    assert (result.valid, result.reason) == (True, "ok")
    assert result.issuer == country
    assert result.claims["type"] == "v"
    assert result.claims["dcc"]["v"][0]["co"] == country


@pytest.mark.parametrize("name", VECTORS)
def test_real_eu_dcc_expires_and_needs_its_own_dsc(name):
    code, dsc, clock, _, _ = VECTORS[name]
    result = verify(code, _trust(dsc), at=_at(clock))
    assert verify(code, _trust(dsc), at=result.not_after).reason == "ok"  # exp inclusive
    assert verify(code, _trust(dsc), at=result.not_after + 1).reason == "expired"
    other = VECTORS["CH-PS256" if name == "AT-ES256" else "AT-ES256"][1]
    assert verify(code, _trust(other), at=_at(clock)).reason == "unknown_issuer"


def test_kid_is_the_first_8_bytes_of_the_dsc_sha256():
    import cbor2

    raw = cbor2.loads(envelope.unwrap(AT_CODE)).value[0]
    assert cbor2.loads(raw)[4] == _trust(AT_DSC).keys[0].kid


def test_check_code_cli_with_a_der_certificate(tmp_path):
    der = tmp_path / "at-dsc.der"
    der.write_bytes(base64.b64decode(AT_DSC))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware.kiosk.check_code",
            "--cert",
            str(der),
            "--at",
            "2021-05-06T18:00:00Z",
            AT_CODE,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout)
    assert (line["valid"], line["reason"], line["issuer"]) == (True, "ok", "AT")
    assert line["not_before"] == "2021-05-06T18:00:00Z"
    assert line["claims"]["dcc"]["nam"]["fnt"] == "MUSTERFRAU<GOESSINGER"
