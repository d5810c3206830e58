"""SOAP 1.1 envelopes in EWS's namespaces, parsed and rendered as pure functions (no I/O).

Errors come in two shapes, as at Exchange ("EWS error handling", "ResponseCode"):

    EwsError   one ResponseMessage with ResponseClass="Error", HTTP 200; the other messages of
               the same request still answer (GetItem's per-item ErrorItemNotFound)
    SoapFault  the whole request fails with a SOAP Fault, HTTP 500: schema violations,
               ErrorImpersonateUserDenied, ErrorServerBusy with its BackOffMilliseconds

The standard library's ElementTree is enough here; it expands no external entities, and the
expat it uses refuses entity-expansion bombs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

Element = ET.Element

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
PREFIXES = {"s": SOAP, "m": MNS, "t": TNS, "e": ENS}
for _prefix, _uri in PREFIXES.items():
    ET.register_namespace(_prefix, _uri)

# What an Exchange 2016 CU23 server reports of itself ("ServerVersionInfo").
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}


class EwsError(Exception):
    """An error answered in one ResponseMessage (ResponseClass="Error")."""

    def __init__(self, code: str, text: str, values: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code, self.text, self.values = code, text, values or {}


class SoapFault(Exception):
    """An error that fails the whole request: a SOAP Fault, HTTP 500."""

    def __init__(self, code: str, text: str, values: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code, self.text, self.values = code, text, values or {}


def malformed(text: str) -> SoapFault:
    return SoapFault("ErrorSchemaValidation", f"The request failed schema validation: {text}")


@dataclass
class SoapRequest:
    operation: Element
    """The one child of ``s:Body``, e.g. ``m:GetItem``."""
    header: Element | None = None
    impersonated: str | None = None
    """``ExchangeImpersonation/ConnectingSID``'s address or principal name."""
    request_version: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return local(self.operation.tag)


def tag(prefix: str, name: str) -> str:
    return f"{{{PREFIXES[prefix]}}}{name}"


def local(qualified: str) -> str:
    return qualified.rsplit("}", 1)[-1]


def t(name: str, text: str | None = None, **attrs: str) -> Element:
    elem = Element(tag("t", name), attrs)
    elem.text = text
    return elem


def m(name: str, text: str | None = None, **attrs: str) -> Element:
    elem = Element(tag("m", name), attrs)
    elem.text = text
    return elem


def child(parent: Element, prefix: str, name: str) -> Element | None:
    return parent.find(tag(prefix, name))


def text_of(parent: Element, prefix: str, name: str) -> str | None:
    found = parent.find(tag(prefix, name))
    return None if found is None else (found.text or "")


def parse_request(body: bytes) -> SoapRequest:
    """The operation element and the headers that matter ("EWS XML elements in Exchange")."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (see the module docstring)
    except ET.ParseError as error:
        raise malformed(f"the body is not XML ({error})") from None
    if root.tag != tag("s", "Envelope"):
        raise malformed("the root element is not a SOAP 1.1 Envelope")
    soap_body = root.find(tag("s", "Body"))
    if soap_body is None or len(soap_body) != 1:
        raise malformed("the Envelope has no Body with exactly one operation")
    header = root.find(tag("s", "Header"))
    request = SoapRequest(soap_body[0], header)
    if header is not None:
        version = header.find(tag("t", "RequestServerVersion"))
        request.request_version = None if version is None else version.get("Version")
        sid = header.find(f"{tag('t', 'ExchangeImpersonation')}/{tag('t', 'ConnectingSID')}")
        if sid is not None:
            request.impersonated = _connecting_sid(sid)
    return request


def _connecting_sid(sid: Element) -> str:
    """ConnectingSID names the user by PrimarySmtpAddress, SmtpAddress or PrincipalName (a SID
    cannot be resolved here)."""
    for name in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
        value = text_of(sid, "t", name)
        if value:
            return value.strip()
    raise malformed("ConnectingSID names nobody this server can resolve (no SMTP address)")


def response_message(
    operation: str, error: EwsError | None = None, children: list[Element] | None = None
) -> Element:
    """``m:<Operation>ResponseMessage``: MessageText, ResponseCode, DescriptiveLinkKey and
    MessageXml come first, in the schema's order ("ResponseMessage")."""
    message = m(f"{operation}ResponseMessage", ResponseClass="Error" if error else "Success")
    if error is None:
        message.append(m("ResponseCode", "NoError"))
    else:
        message.append(m("MessageText", error.text))
        message.append(m("ResponseCode", error.code))
        message.append(m("DescriptiveLinkKey", "0"))
        if error.values:
            message.append(_message_xml("m", error.values))
    message.extend(children or [])
    return message


def operation_response(operation: str, messages: list[Element]) -> Element:
    response = m(f"{operation}Response")
    container = m("ResponseMessages")
    container.extend(messages)
    response.append(container)
    return response


def envelope(body_child: Element) -> bytes:
    """A response envelope; every answer carries ``ServerVersionInfo`` in its header."""
    root = Element(tag("s", "Envelope"))
    header = ET.SubElement(root, tag("s", "Header"))
    ET.SubElement(header, tag("t", "ServerVersionInfo"), SERVER_VERSION)
    ET.SubElement(root, tag("s", "Body")).append(body_child)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def fault(error: SoapFault) -> bytes:
    """A SOAP 1.1 Fault as EWS sends it: ``faultcode`` in the types namespace, and ``detail``
    holding ``e:ResponseCode``, ``e:Message`` and ``t:MessageXml`` (e.g. BackOffMilliseconds)."""
    root = Element(tag("s", "Envelope"))
    body = ET.SubElement(root, tag("s", "Body"))
    soap_fault = ET.SubElement(body, tag("s", "Fault"))
    code = ET.SubElement(soap_fault, "faultcode", {"xmlns:a": TNS})
    code.text = f"a:{error.code}"
    ET.SubElement(soap_fault, "faultstring").text = error.text
    detail = ET.SubElement(soap_fault, "detail")
    ET.SubElement(detail, tag("e", "ResponseCode")).text = error.code
    ET.SubElement(detail, tag("e", "Message")).text = error.text
    if error.values:
        detail.append(_message_xml("t", error.values))
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _message_xml(prefix: str, values: dict[str, str]) -> Element:
    message_xml = Element(tag(prefix, "MessageXml"))
    for name, value in values.items():
        ET.SubElement(message_xml, tag("t", "Value"), {"Name": name}).text = value
    return message_xml


def from_fragment(xml: str) -> Element:
    """An element written by the operator (the backdoor); ``t:`` is bound to the types
    namespace unless the fragment binds it itself."""
    try:
        root = ET.fromstring(f'<wrap xmlns:t="{TNS}">{xml}</wrap>')  # noqa: S314 (the operator's)
    except ET.ParseError as error:
        raise ValueError(f"not an XML fragment: {error}") from None
    if len(root) != 1:
        raise ValueError("the fragment must hold exactly one element")
    return root[0]
