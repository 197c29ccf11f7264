//! Currencies and positive amounts in integer minor units.

use std::fmt;
use std::str::FromStr;

use crate::{InvalidRequest, excerpt};

/// A currency the gateway charges in.
///
/// Every supported currency has two minor-unit digits (cents), so an amount
/// is a whole number of cents and prints with exactly two decimals.
/// Currencies with zero or three minor-unit digits (JPY, BHD) are left out on
/// purpose: supporting them means carrying the exponent per currency, and
/// Ledgerly's pricing rounds to cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    /// United States dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 3] = [Currency::Usd, Currency::Eur, Currency::Gbp];

    /// The ISO 4217 code, upper case (`USD`).
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
        }
    }
}

/// Parses an ISO 4217 code in upper case, as processors write it; anything
/// else (`usd` included) is refused.
impl FromStr for Currency {
    type Err = InvalidRequest;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            // Case-sensitive, as every text field is (`Gold` is not a tier):
            // `usd` is refused like ` USD`, never silently read as USD.
            .find(|currency| currency.code() == code)
            .ok_or_else(|| InvalidRequest::UnsupportedCurrency(excerpt(code)))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount to charge: a positive whole number of minor units (cents) in a
/// currency.
///
/// A charge of zero or less is not a charge, so such an amount cannot be
/// built. The currency travels with the number, so two amounts in different
/// currencies are never equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    minor_units: i64,
    currency: Currency,
}

impl Amount {
    /// An amount of `minor_units` cents in `currency`; it must be above zero.
    ///
    /// ```
    /// use payment_gateway::{Amount, Currency};
    ///
    /// let amount = Amount::new(14169, Currency::Usd)?;
    /// assert_eq!(amount.to_string(), "141.69 USD");
    /// assert!(Amount::new(0, Currency::Usd).is_err());
    /// # Ok::<(), payment_gateway::InvalidRequest>(())
    /// ```
    pub fn new(minor_units: i64, currency: Currency) -> Result<Amount, InvalidRequest> {
        if minor_units <= 0 {
            return Err(InvalidRequest::NonPositiveAmount {
                minor_units,
                currency,
            });
        }
        Ok(Amount {
            minor_units,
            currency,
        })
    }

    /// The amount in minor units (cents); always above zero.
    pub const fn minor_units(self) -> i64 {
        self.minor_units
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }
}

/// Prints `141.69 USD`: exactly two decimals, then the currency code.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = self.minor_units.unsigned_abs();
        write!(f, "{}.{:02} {}", units / 100, units % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_zero_and_negative_amounts() {
        assert_eq!(
            Amount::new(0, Currency::Eur),
            Err(InvalidRequest::NonPositiveAmount {
                minor_units: 0,
                currency: Currency::Eur
            })
        );
        assert!(Amount::new(-1, Currency::Usd).is_err());
        assert!(Amount::new(i64::MIN, Currency::Usd).is_err());
        assert_eq!(Amount::new(1, Currency::Usd).unwrap().minor_units(), 1);
    }

    #[test]
    fn prints_two_decimals_and_the_code() {
        assert_eq!(
            Amount::new(5, Currency::Gbp).unwrap().to_string(),
            "0.05 GBP"
        );
        assert_eq!(
            Amount::new(i64::MAX, Currency::Usd).unwrap().to_string(),
            "92233720368547758.07 USD"
        );
    }

    #[test]
    fn parses_upper_case_codes_and_refuses_every_other_spelling() {
        assert_eq!(
            "usd".parse::<Currency>(),
            Err(InvalidRequest::UnsupportedCurrency("usd".to_owned()))
        );
        assert!("Eur".parse::<Currency>().is_err());
        assert_eq!("EUR".parse::<Currency>(), Ok(Currency::Eur));
        assert_eq!(
            "JPY".parse::<Currency>(),
            Err(InvalidRequest::UnsupportedCurrency("JPY".to_owned()))
        );
        assert!(" usd".parse::<Currency>().is_err());
        for currency in Currency::ALL {
            assert_eq!(currency.code().parse::<Currency>(), Ok(currency));
        }
    }

    #[test]
    fn amounts_in_different_currencies_differ() {
        assert_ne!(
            Amount::new(100, Currency::Usd).unwrap(),
            Amount::new(100, Currency::Eur).unwrap()
        );
    }
}
