"""The e-mail channel's settings: one support mailbox, read over IMAP and written through SMTP."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from okno.kit.labels import labelled

Security = Literal["ssl", "starttls", "none"]
HOST_PATTERN = r"^[A-Za-z0-9.\-:\[\]]{1,253}$"


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = labelled(
        "Support address", "Адрес поддержки", min_length=3, max_length=254,
        help_en="the mailbox customers write to (From of every reply)",
        help_ru="ящик, на который пишут клиенты (From каждого ответа)",
    )
    from_name: str = labelled("Sender name", "Имя отправителя", default="", max_length=200,
                              help_en="shown beside the address in replies", help_ru="показывается рядом с адресом в ответах")
    imap_host: str = labelled("IMAP server", "IMAP-сервер", pattern=HOST_PATTERN,
                              help_en="host name of the incoming mail server", help_ru="имя сервера входящей почты")
    imap_port: int = labelled("IMAP port", "Порт IMAP", default=993, ge=1, le=65535)
    imap_security: Security = labelled("IMAP security", "Защита IMAP", default="ssl",
                                       help_en="ssl (port 993), starttls (port 143) or none", help_ru="ssl (порт 993), starttls (порт 143) или none")
    smtp_host: str = labelled("SMTP server", "SMTP-сервер", pattern=HOST_PATTERN,
                              help_en="host name of the outgoing mail server", help_ru="имя сервера исходящей почты")
    smtp_port: int = labelled("SMTP port", "Порт SMTP", default=465, ge=1, le=65535)
    smtp_security: Security = labelled("SMTP security", "Защита SMTP", default="ssl",
                                       help_en="ssl (port 465), starttls (port 587) or none", help_ru="ssl (порт 465), starttls (порт 587) или none")
    username: str = labelled("Login", "Логин", min_length=1, max_length=320,
                             help_en="the mailbox login (IMAP, and SMTP unless given below)", help_ru="логин ящика (IMAP и SMTP, если ниже не указан другой)")
    password: SecretStr = labelled("Password", "Пароль", min_length=1,
                                   help_en="the mailbox password or an app password", help_ru="пароль ящика или пароль приложения")
    smtp_username: str | None = labelled("SMTP login", "Логин SMTP", default=None, max_length=320,
                                         help_en="only when SMTP uses another login", help_ru="только если у SMTP другой логин")
    smtp_password: SecretStr | None = labelled("SMTP password", "Пароль SMTP", default=None,
                                               help_en="only when SMTP uses another password", help_ru="только если у SMTP другой пароль")
    mailbox: str = labelled("Folder", "Папка", default="INBOX", min_length=1, max_length=200,
                            help_en="the IMAP folder okno reads", help_ru="папка IMAP, которую читает okno")
    reply_to: str | None = labelled("Reply-To", "Reply-To", default=None, max_length=254,
                                    help_en="an address replies should go to, if not the support address",
                                    help_ru="адрес для ответов, если это не адрес поддержки")
    verify_tls: bool = labelled("Check certificates", "Проверять сертификаты", default=True,
                                help_en="turn off only for a server with a self-signed certificate you trust",
                                help_ru="выключайте только для сервера с самоподписанным сертификатом, которому доверяете")
    idle_seconds: int = labelled("IDLE period", "Период IDLE", default=1500, ge=5, le=1740,
                                 help_en="seconds one IMAP IDLE waits before it is renewed (under 29 minutes)",
                                 help_ru="сколько секунд ждёт одна команда IMAP IDLE до обновления (меньше 29 минут)")

    @field_validator("address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain.strip(".") and domain != "localhost" or any(c.isspace() for c in value):
            raise ValueError("must be an e-mail address (name@example.com)")
        return value

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    def smtp_login(self) -> tuple[str, str]:
        password = self.smtp_password if self.smtp_password is not None else self.password
        return (self.smtp_username or self.username, password.get_secret_value())
