//! BGRX screen images to I420 (YUV 4:2:0), the encoder's input format.
//!
//! Done here with SIMD (yuvutils-rs) rather than by ffmpeg's swscale, whose generic path cost
//! about as much CPU as x264 `ultrafast` itself at 720p; it also shrinks each frame on the pipe
//! to ffmpeg from 4 to 1.5 bytes per pixel. BT.709, limited range, as ffmpeg is told.

use yuvutils_rs::{
    bgra_to_yuv420, YuvChromaSubsampling, YuvConversionMode, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::CaptureError;

/// One I420 frame buffer, refilled from each changed screen image.
pub struct I420Frame {
    image: YuvPlanarImageMut<'static, u8>,
}

impl I420Frame {
    /// A black-initialised frame of `width` x `height`.
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            image: YuvPlanarImageMut::alloc(
                u32::from(width),
                u32::from(height),
                YuvChromaSubsampling::Yuv420,
            ),
        }
    }

    /// Converts a tightly packed BGRX image of the frame's size (the X padding byte is ignored).
    pub fn fill_from_bgrx(&mut self, bgrx: &[u8]) -> Result<(), CaptureError> {
        let stride = self.image.width * 4;
        bgra_to_yuv420(
            &mut self.image,
            bgrx,
            stride,
            YuvRange::Limited,
            YuvStandardMatrix::Bt709,
            YuvConversionMode::Balanced,
        )
        .map_err(|e| CaptureError::Grab(format!("colour conversion: {e}")))
    }

    /// The Y, U and V planes, in that order.
    pub fn planes(&self) -> [&[u8]; 3] {
        [
            self.image.y_plane.borrow(),
            self.image.u_plane.borrow(),
            self.image.v_plane.borrow(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_and_black_map_to_limited_range_luma() {
        let mut frame = I420Frame::new(4, 2);
        let mut bgrx = [255u8; 4 * 4 * 2];
        bgrx[..16].fill(0);
        frame.fill_from_bgrx(&bgrx).unwrap();
        let [y, u, v] = frame.planes();
        assert_eq!(&y[..4], &[16; 4], "black row");
        assert_eq!(&y[4..], &[235; 4], "white row");
        assert!(
            u.iter().chain(v).all(|&c| (127..=129).contains(&c)),
            "grey has no chroma"
        );
        assert!(frame.fill_from_bgrx(&bgrx[..10]).is_err());
    }
}
